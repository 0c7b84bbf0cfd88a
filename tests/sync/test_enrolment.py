"""Enrolling laptops with a one-time code over real loopback sockets, and what an offer refuses."""

from __future__ import annotations

import asyncio
import logging
import os
import re

import pytest

from fieldkit.sync import enrolment
from fieldkit.sync.certs import create_network, peer_device, tls_context, verify
from fieldkit.sync.enrolment import EnrolmentRefused, Offer, join, new_code
from fieldkit.sync.identity import new_device_key


@pytest.fixture
def clinic_net():
    return create_network("Soc Trang mobile clinics")


@pytest.fixture
async def offer(clinic_net):
    """Serve offers for the clinic network on loopback; all closed at the end of the test."""
    network_key, network = clinic_net
    made: list[Offer] = []

    async def make(**options) -> Offer:
        made.append(Offer(new_code(), network_key, network, **options))
        await made[-1].serve("127.0.0.1")
        return made[-1]

    yield make
    for each in made:
        await each.close()


async def new_laptop(offer: Offer, code: str | None = None):
    """Join as a fresh laptop; its key, device id, and what join returned."""
    key, device = new_device_key()
    network, cert = await join(code or offer.code, "127.0.0.1", offer.port, device_key=key, timeout=5)
    return key, device, network, cert


def wrong(code: str) -> str:
    return f"{(int(code.replace('-', '')) + 1) % 10**6:06d}"


async def raw_connection(offer: Offer):
    """A connection to the offer that has read its opening frames, for sending it bad ones."""
    reader, writer = await asyncio.open_connection("127.0.0.1", offer.port)
    for _ in range(2):
        await reader.readexactly(int.from_bytes(await reader.readexactly(4), "big"))
    return reader, writer


def test_a_code_is_six_random_digits_grouped_for_reading_aloud():
    codes = {new_code() for _ in range(20)}
    assert all(re.fullmatch(r"[0-9]{3}-[0-9]{3}", code) for code in codes)
    assert len(codes) > 15


async def test_the_right_code_enrols_laptops_that_then_handshake(offer, clinic_net):
    _network_key, network = clinic_net
    first, second = await offer(), await offer()
    a_key, a, a_network, a_cert = await new_laptop(first)
    b_key, b, _b_network, b_cert = await new_laptop(second)
    assert a_network == network and verify(a_cert, network) == a and verify(b_cert, network) == b
    assert await first.wait() == a and await second.wait() == b

    seen = asyncio.get_running_loop().create_future()

    async def accept(reader, writer):
        seen.set_result(peer_device(writer.get_extra_info("ssl_object"), network))
        writer.close()

    server_side = tls_context(server=True, device_key=a_key, certificate=a_cert, network=network)
    client_side = tls_context(server=False, device_key=b_key, certificate=b_cert, network=network)
    server = await asyncio.start_server(accept, "127.0.0.1", 0, ssl=server_side)
    try:
        _reader, writer = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1],
                                                        ssl=client_side)
        assert peer_device(writer.get_extra_info("ssl_object"), network) == a
        assert await asyncio.wait_for(seen, 5) == b
        writer.close()
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("script", ["٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹", "0123456789"],
                         ids=["Arabic-Indic", "Persian", "ASCII"])
@pytest.mark.parametrize("spacing", ["{}{}", "{} {}"], ids=["together", "spaced"])
async def test_a_code_typed_in_another_script_or_spacing_works(offer, script, spacing):
    open_offer = await offer()
    halves = open_offer.code.translate(str.maketrans("0123456789", script)).split("-")
    _key, device, _network, _cert = await new_laptop(open_offer, spacing.format(*halves))
    assert await open_offer.wait() == device


async def test_a_code_that_is_not_six_digits_is_refused_before_connecting():
    with pytest.raises(EnrolmentRefused, match="6 digits"):
        await join("48-913", "127.0.0.1", 1, device_key=new_device_key()[0])


async def test_a_wrong_code_is_refused_and_the_right_one_still_works(offer):
    open_offer = await offer()
    with pytest.raises(EnrolmentRefused, match="^wrong code$"):
        await new_laptop(open_offer, wrong(open_offer.code))
    _key, device, _network, _cert = await new_laptop(open_offer)
    assert await open_offer.wait() == device


async def test_three_wrong_codes_close_the_offer(offer):
    open_offer = await offer()
    for _ in range(3):
        with pytest.raises(EnrolmentRefused, match="wrong code"):
            await new_laptop(open_offer, wrong(open_offer.code))
    with pytest.raises(EnrolmentRefused, match="too many wrong codes"):
        await asyncio.wait_for(open_offer.wait(), 1)
    with pytest.raises(EnrolmentRefused):
        await new_laptop(open_offer)


async def test_a_code_is_used_once(offer):
    open_offer = await offer()
    # Two laptops racing with the right code: both are connected before either finishes.
    results = await asyncio.gather(new_laptop(open_offer), new_laptop(open_offer), return_exceptions=True)
    joined = [result[1] for result in results if not isinstance(result, BaseException)]
    assert len(joined) == 1 and await open_offer.wait() == joined[0]
    assert any(isinstance(result, EnrolmentRefused) for result in results)
    with pytest.raises(EnrolmentRefused):
        await new_laptop(open_offer)


async def test_an_expired_code_is_refused(offer):
    open_offer = await offer(lifetime=0.2)
    await asyncio.sleep(0.3)
    with pytest.raises(EnrolmentRefused):
        await new_laptop(open_offer)
    with pytest.raises(EnrolmentRefused, match="code expired"):
        await asyncio.wait_for(open_offer.wait(), 1)


@pytest.mark.parametrize("bad", ["oversize", "not SPAKE2", "silence"])
async def test_a_bad_frame_ends_its_connection_not_the_offer(offer, monkeypatch, caplog, bad):
    if bad == "silence":
        monkeypatch.setattr(enrolment, "READ_TIMEOUT", 0.3)
    open_offer = await offer(attempts=1)  # a bad frame must not be counted as a wrong code
    reader, writer = await raw_connection(open_offer)
    if bad == "oversize":
        writer.write((enrolment.MAX_FRAME + 1).to_bytes(4, "big"))  # refused on the length alone
    elif bad == "not SPAKE2":
        # Marked as from the supervisor's own side: refused whatever the bytes. Random bytes marked
        # as the laptop's decode to a valid point about one time in 25, and the offer then rightly
        # waits for a confirmation that never comes.
        writer.write((33).to_bytes(4, "big") + b"A" + os.urandom(32))
    assert await asyncio.wait_for(reader.read(), 2) == b""  # the offer hung up on us
    writer.close()
    _key, device, _network, _cert = await new_laptop(open_offer)
    assert await open_offer.wait() == device
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_silent_supervisor_cannot_hang_the_joiner():
    async def say_nothing(reader, writer):
        await reader.read()  # until the joiner gives up and hangs up
        writer.close()

    server = await asyncio.start_server(say_nothing, "127.0.0.1", 0)
    try:
        with pytest.raises(EnrolmentRefused, match="stopped answering"):
            await asyncio.wait_for(join("482-913", "127.0.0.1", server.sockets[0].getsockname()[1],
                                        device_key=new_device_key()[0], timeout=0.3), 2)
    finally:
        server.close()
