"""The hub: laptops forward what it lacks over mutual TLS, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from fieldkit.sync import membership, messages
from fieldkit.sync.forwarder import FRAME, HubRefused, pending, push
from fieldkit.sync.wire import MAX_FRAME, encode, unframe
from hub_support import database, enrol_hub, running_hub
from sync_support import journal, network

BACKENDS = ["sqlite", "postgresql"]


def register(laptop, count: int, prefix: str) -> None:
    for i in range(count):
        laptop.clinic.register({"given_name": f"{prefix}{i}", "family_name": laptop.name, "sex": "female"})


@pytest.mark.parametrize("kind", BACKENDS)
async def test_ten_laptops_upload_at_once_and_each_entry_is_stored_once(tmp_path, kind):
    laptops = await asyncio.to_thread(network, tmp_path, 10)
    for laptop in laptops:
        await asyncio.to_thread(register, laptop, 120, "p")
    enrol_hub(tmp_path / "hub", laptops[0])
    with database(kind, tmp_path / "hub") as url:
        async with running_hub(tmp_path / "hub", url) as hub:
            reports = await asyncio.gather(*(push(l.store, l.member, hub.url, first_batch=10) for l in laptops))
            held = await asyncio.to_thread(hub.storage.vector)
            stored = await asyncio.to_thread(hub.storage.count)
    everyone = set().union(*[await asyncio.to_thread(journal, l) for l in laptops])
    assert stored == len(everyone)  # every entry once: the primary key would refuse a second
    for laptop, report in zip(laptops, reports):
        mine = await asyncio.to_thread(laptop.store.version_vector)
        assert all(held[origin] >= seq for origin, seq in mine.items())
        assert report.sent == 121 and report.batches >= 2
        assert report.pending == 0 and await asyncio.to_thread(pending, laptop.store) == 0
        assert {o: s for o, s in report.hub_vector.items() if o in mine} == {o: held[o] for o in mine}


async def post(laptop, hub, path: str, body: bytes, content_type: str = FRAME) -> tuple[int, str]:
    """A raw request with the laptop's certificate: the status and the hub's one-line reason."""
    connector = aiohttp.TCPConnector(ssl=laptop.member.context(server=False))
    async with aiohttp.ClientSession(connector=connector) as http:
        async with http.post(hub.url + path, data=body, headers={"Content-Type": content_type}) as response:
            raw = await response.read()
    if response.content_type == FRAME:
        return response.status, unframe(raw).get("message", "")
    return response.status, raw.decode(errors="replace")


def batch_of(laptop, tamper=None) -> bytes:
    laptop.store.sign_checkpoints(laptop.member.sign)
    out = laptop.store.outgoing({}, 5000)
    rows = [list(e.row()) for e in out.entries]
    if tamper:
        tamper(rows)
    return encode(messages.dump(messages.Batch(
        entries=rows, checkpoints=[(c.origin, c.seq, c.hash, c.signature.hex()) for c in out.checkpoints],
        certificates={o: pem.decode() for o, pem in out.certificates.items()})))


@pytest.mark.parametrize("kind", BACKENDS)
async def test_refusals_have_a_clear_status_and_store_nothing(tmp_path, kind):
    founder, clinic, revoked = await asyncio.to_thread(network, tmp_path, 3)
    [stranger] = await asyncio.to_thread(network, tmp_path / "elsewhere", 1, "Another network")
    for laptop in (clinic, revoked):
        await asyncio.to_thread(register, laptop, 3, "q")
    await asyncio.to_thread(membership.revoke, founder.store, founder.member, revoked.device, user=founder.user.id)
    enrol_hub(tmp_path / "hub", founder)
    with database(kind, tmp_path / "hub") as url:
        async with running_hub(tmp_path / "hub", url) as hub:
            await push(founder.store, founder.member, hub.url)  # the hub learns of the revocation
            before = await asyncio.to_thread(hub.storage.count)

            def altered(rows):  # a name changed on the way, hash left as it was
                rows[1][10] = rows[1][10].replace("q0", "qX")

            good = await asyncio.to_thread(batch_of, clinic)
            cases = [
                (clinic, "/v1/batch", await asyncio.to_thread(batch_of, clinic, altered), FRAME, 403, "not match its hash"),
                (clinic, "/v1/batch", b"\x00\x00\x00\x05\x00{oops", FRAME, 400, "not JSON"),
                (clinic, "/v1/batch", good[:-10], FRAME, 400, "length does not match"),
                (clinic, "/v1/batch", good, "application/json", 400, "send application/vnd.fieldkit.frame"),
                (clinic, "/v1/batch", b"\x00" * (MAX_FRAME + 64), FRAME, 413, "over the"),
                (clinic, "/v1/hello", encode({"kind": "hello", "protocol": 99, "schema": 1,
                                              "network": clinic.member.network.id, "device": clinic.device,
                                              "clock": 0, "vector": {}}), FRAME, 400, "protocol 1, the laptop 99"),
                (revoked, "/v1/batch", await asyncio.to_thread(batch_of, revoked), FRAME, 403, "revoked"),
            ]
            for laptop, path, body, content_type, status, words in cases:
                got, why = await post(laptop, hub, path, body, content_type)
                assert (got, words in why) == (status, True), (path, status, words, got, why)
                assert "\n" not in why.strip()
            with pytest.raises(aiohttp.ClientError):  # another network's laptop fails the TLS handshake
                await post(stranger, hub, "/v1/batch", good)
            async with aiohttp.ClientSession() as http:  # no certificate at all
                async with http.post(hub.url + "/v1/batch", data=good, ssl=False) as response:
                    assert response.status == 401
                async with http.get(hub.url + "/health", ssl=False) as response:
                    assert response.status == 200 and (await response.json())["storage"] == kind
            assert await asyncio.to_thread(hub.storage.count) == before
            with pytest.raises(HubRefused, match="revoked"):
                await push(revoked.store, revoked.member, hub.url)
            assert await asyncio.to_thread(hub.storage.count) == before
            # The clinic laptop's real batch still goes through, twice over, stored once.
            assert (await post(clinic, hub, "/v1/batch", good))[0] == 200
            assert (await post(clinic, hub, "/v1/batch", good))[0] == 200
            assert await asyncio.to_thread(hub.storage.count) == before + 4
