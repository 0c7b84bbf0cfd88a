"""LAN discovery with real zeroconf on loopback: no mocks, real mDNS packets on 127.0.0.1.

Every test draws fresh random network and device ids, so parallel runs on one machine (which all
share 127.0.0.1:5353) see each other's packets but never each other's peers.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
import uuid

import pytest
from zeroconf import IPVersion
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from fieldkit.errors import FieldkitError
from fieldkit.sync.discovery import SERVICE, Discovery, Sighting, _sighting, lan_addresses

LOOPBACK = ["127.0.0.1"]
PROTOCOL = 3
PORT = 7000


def new_id() -> str:
    return uuid.uuid4().hex


@pytest.fixture
async def laptops():
    """Start Discovery instances on loopback; every one is stopped at the end, pass or fail."""
    started: list[Discovery] = []

    async def start(network_id: str, device_id: str, **kwargs) -> Discovery:
        disc = Discovery(network_id=network_id, device_id=device_id, port=PORT,
                         protocol=PROTOCOL, interfaces=LOOPBACK, **kwargs)
        started.append(disc)
        await disc.start()
        return disc

    yield start
    await asyncio.gather(*(disc.stop() for disc in started), return_exceptions=True)


async def wait_until(condition, timeout: float = 5.0) -> None:
    begin = time.monotonic()
    while not condition():
        if time.monotonic() - begin > timeout:
            pytest.fail(f"condition not met within {timeout} s")
        await asyncio.sleep(0.02)


def ids(disc: Discovery) -> set[str]:
    return {s.device_id for s in disc.peers()}


async def test_peers_of_one_network_find_each_other_and_no_one_else(laptops):
    clinic, other = new_id(), new_id()
    ida, idb, idc, idd = new_id(), new_id(), new_id(), new_id()
    changes = []
    begin = time.monotonic()
    a, b, c, d, looker = await asyncio.gather(
        laptops(clinic, ida, on_change=lambda: changes.append("a")),
        laptops(clinic, idb),
        laptops(other, idc),
        laptops(other, idd),
        laptops(clinic, new_id(), advertise=False))
    await wait_until(lambda: ids(a) == {idb} and ids(b) == {ida})
    elapsed = time.monotonic() - begin
    print(f"\ndiscovery on loopback took {elapsed:.2f} s (including start)")
    assert elapsed < 5.0

    # c and d finding each other proves their announcements were on the wire while a and b
    # were listening: their absence below is filtering, not timing.
    await wait_until(lambda: ids(c) == {idd} and ids(d) == {idc})
    await wait_until(lambda: ids(looker) == {ida, idb})
    assert ids(a) == {idb} and ids(b) == {ida}  # neither the other network nor the looker

    assert a.peers() == [Sighting(device_id=idb, network_id=clinic, protocol=PROTOCOL,
                                  host="127.0.0.1", port=PORT)]
    assert changes == ["a"]


async def test_a_stopped_peer_disappears(laptops):
    clinic, idb = new_id(), new_id()
    changes = []
    a, b = await asyncio.gather(laptops(clinic, new_id(), on_change=lambda: changes.append(1)),
                                laptops(clinic, idb))
    await wait_until(lambda: ids(a) == {idb})
    assert len(changes) == 1
    begin = time.monotonic()
    await b.stop()
    await wait_until(lambda: not a.peers())
    print(f"\na stopped peer vanished {time.monotonic() - begin:.2f} s after stop() was called")
    assert len(changes) == 2
    assert b.peers() == []
    await b.stop()  # idempotent


async def test_announcements_with_bad_txt_are_never_listed(laptops):
    clinic, ida, good, spoofed = new_id(), new_id(), new_id(), new_id()
    bad_txt = {
        "oversized": {"net": clinic, "dev": None, "v": "1", "note": "x" * 65},
        "non-hex id": {"net": clinic, "dev": "z" * 32, "v": "1"},
        "protocol not an int": {"net": clinic, "dev": None, "v": "1.5"},
        "no network": {"dev": None, "v": "1"},
        "claims our device id": {"net": clinic, "dev": ida, "v": "1"},
        "name and TXT disagree": {"net": clinic, "dev": spoofed, "v": "1"},
    }
    services = []
    for props in bad_txt.values():
        device = new_id()
        services.append(announcement(device, {**props, "dev": props["dev"] or device}))
    services.append(announcement(good, {"net": clinic, "dev": good, "v": "1"}))

    outsider = AsyncZeroconf(interfaces=LOOPBACK, ip_version=IPVersion.V4Only)
    try:
        a, *_ = await asyncio.gather(laptops(clinic, ida),
                                     *(outsider.async_register_service(s) for s in services))
        # All were announced together and resolve from the cache together: once the good one is
        # listed, a short grace is ample for the bad ones to have been resolved and refused.
        await wait_until(lambda: ids(a) == {good})
        await asyncio.sleep(0.3)
        assert ids(a) == {good}
    finally:
        await outsider.async_close()


def announcement(device: str, properties: dict[str, str]) -> AsyncServiceInfo:
    return AsyncServiceInfo(SERVICE, f"{device}.{SERVICE}", port=7999, server=f"{device}.local.",
                            properties=properties, parsed_addresses=LOOPBACK)


@pytest.mark.parametrize("properties", [
    pytest.param({"net": "a" * 32, "dev": "b" * 32, "v": "1", "extra": "x" * 65}, id="oversized"),
    pytest.param({"net": "A" * 32, "dev": "b" * 32, "v": "1"}, id="uppercase id"),
    pytest.param({"net": "a" * 31, "dev": "b" * 32, "v": "1"}, id="short id"),
    pytest.param({"net": "a" * 32, "dev": "b" * 32, "v": " 1"}, id="padded protocol"),
    pytest.param({"net": "a" * 32, "dev": "b" * 32, "v": "1_0"}, id="python-only int"),
    pytest.param({"net": "a" * 32, "dev": "b" * 32}, id="no protocol"),
    pytest.param({"net": "a" * 32, "dev": "b" * 32, "v": None}, id="protocol without value"),
])
def test_malformed_txt_gives_no_sighting(properties):
    info = AsyncServiceInfo(SERVICE, f"{'b' * 32}.{SERVICE}", port=7000,
                            properties=properties, parsed_addresses=LOOPBACK)
    assert _sighting(info) is None


def test_a_sighting_needs_an_ipv4_address():
    properties = {"net": "a" * 32, "dev": "b" * 32, "v": "12"}
    info = AsyncServiceInfo(SERVICE, f"{'b' * 32}.{SERVICE}", port=7000, properties=properties,
                            parsed_addresses=["::1"])
    assert _sighting(info) is None
    info = AsyncServiceInfo(SERVICE, f"{'b' * 32}.{SERVICE}", port=7000, properties=properties,
                            parsed_addresses=LOOPBACK)
    assert _sighting(info) == Sighting("b" * 32, "a" * 32, 12, "127.0.0.1", 7000)


@pytest.mark.parametrize("interfaces", [[], ["203.0.113.77"], ["not-an-address"]])
async def test_an_unusable_interface_is_a_one_line_fieldkit_error(interfaces):
    disc = Discovery(network_id=new_id(), device_id=new_id(), port=7000, protocol=PROTOCOL,
                     interfaces=interfaces)
    with pytest.raises(FieldkitError) as caught:
        await disc.start()
    assert "\n" not in str(caught.value)
    print(f"\n{interfaces}: {caught.value}")
    await disc.stop()


def test_lan_addresses_are_ipv4_and_never_loopback():
    for address in lan_addresses():
        assert ipaddress.ip_address(address).version == 4
        assert not ipaddress.ip_address(address).is_loopback
