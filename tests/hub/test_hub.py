"""The hub: laptops forward what it lacks over mutual TLS, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import asyncio

import aiohttp
import psycopg
import pytest
from hub_support import database, enrol_hub, hub_process, open_storage, postgres_schema, running_hub
from openapi_spec_validator import validate
from sync_support import journal, network, sync

from fieldkit.store.journal import parse
from fieldkit.sync import membership, messages
from fieldkit.sync.forwarder import HubClient, HubRefused, HubUnreachable, push
from fieldkit.sync.hub_vector import last_success, pending
from fieldkit.sync.wire import FRAME, MAX_FRAME, encode, unframe

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
            reports = await asyncio.gather(*(push(lt.store, lt.member, hub.url, first_batch=10) for lt in laptops))
            held = await asyncio.to_thread(hub.storage.version_vector)
            stored = await asyncio.to_thread(hub.storage.count)
    everyone = set().union(*[await asyncio.to_thread(journal, lt) for lt in laptops])
    assert stored == len(everyone)  # every entry once: the primary key would refuse a second
    for laptop, report in zip(laptops, reports):
        mine = await asyncio.to_thread(laptop.store.version_vector)
        assert all(held[origin] >= seq for origin, seq in mine.items())
        assert report.sent == 121 and report.batches >= 2
        assert report.pending == 0 and await laptop.store.aread(pending) == 0
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


async def test_two_hub_processes_on_one_postgresql_take_the_same_entries_at_once(tmp_path):
    a, b = await asyncio.to_thread(network, tmp_path, 2)
    await asyncio.to_thread(register, a, 150, "a")
    await asyncio.to_thread(register, b, 150, "b")
    await sync(a, b)  # both laptops now hold both histories, and both will forward all of it
    enrol_hub(tmp_path / "hub", a)
    with postgres_schema() as url, hub_process(tmp_path / "hub", url) as (_, one), \
            hub_process(tmp_path / "hub", url) as (_, two):
        first, second = await asyncio.gather(push(a.store, a.member, one, first_batch=10, pull=False),
                                             push(b.store, b.member, two, first_batch=10, pull=False))
        storage = open_storage(url)
        stored, held = storage.count(), storage.version_vector()
        storage.close()
        with psycopg.connect(url) as conn:
            rows = conn.execute("SELECT count(*) FROM hub_journal").fetchone()[0]
    everything = await asyncio.to_thread(journal, a)
    assert stored == rows == len(everything) == 302  # each entry once, none lost
    assert held == await asyncio.to_thread(a.store.version_vector)
    assert first.pending == second.pending == 0
    assert first.sent + second.sent >= len(everything)  # both really sent, racing each other


async def test_an_upload_cut_by_killing_the_hub_resumes_without_loss_or_repeats(tmp_path):
    [laptop] = await asyncio.to_thread(network, tmp_path, 1)
    await asyncio.to_thread(register, laptop, 400, "k")
    enrol_hub(tmp_path / "hub", laptop)
    url = f"sqlite:///{tmp_path / 'hub' / 'hub.db'}"
    acked = []
    with hub_process(tmp_path / "hub", url) as (process, address):
        def kill_after_two(report) -> None:
            acked.append(report.sent)
            if len(acked) == 2:
                process.kill()  # SIGKILL: no chance to finish anything
        with pytest.raises(HubUnreachable):
            await push(laptop.store, laptop.member, address, first_batch=50, progress=kill_after_two,
                       client=HubClient(address, laptop.member, attempts=2))
    remembered = parse(await asyncio.to_thread(laptop.store.get_meta, "hub_vector"))
    assert remembered[laptop.device] == acked[-1]
    assert await laptop.store.aread(last_success) is None  # moved entries, but no round finished
    storage = open_storage(url)
    survived = storage.count()  # what the killed hub had committed
    storage.close()
    # Acknowledged means stored; at most the batch in flight was stored without its ack.
    assert acked[-1] <= survived <= acked[-1] + 200
    with hub_process(tmp_path / "hub", url) as (_, address):
        resumed = await push(laptop.store, laptop.member, address)
        storage = open_storage(url)
        stored = storage.count()
        storage.close()
    total = len(await asyncio.to_thread(journal, laptop))
    assert stored == total == 401
    assert resumed.sent == total - survived and resumed.pending == 0  # nothing sent twice
    assert await laptop.store.aread(last_success) is not None


async def test_the_openapi_description_is_valid_and_names_every_route_the_hub_serves(tmp_path):
    [laptop] = await asyncio.to_thread(network, tmp_path, 1)
    enrol_hub(tmp_path / "hub", laptop)
    async with running_hub(tmp_path / "hub", f"sqlite:///{tmp_path / 'hub' / 'hub.db'}") as hub:
        async with aiohttp.ClientSession() as http:
            async with http.get(hub.url + "/openapi.json", ssl=False) as response:
                described = await response.json()
        served = {(route.resource.canonical, route.method.lower()) for route in hub.app.router.routes()
                  if route.method != "HEAD"}
    validate(described)  # raises on anything OpenAPI 3.1 does not allow
    assert {(path, method) for path, item in described["paths"].items() for method in item} == served


async def test_a_laptop_receives_from_the_hub_what_others_sent_it_revocations_included(tmp_path):
    founder, clinic, lost = await asyncio.to_thread(network, tmp_path, 3)
    await asyncio.to_thread(register, clinic, 30, "c")
    enrol_hub(tmp_path / "hub", founder)
    with database("sqlite", tmp_path / "hub") as url:
        async with running_hub(tmp_path / "hub", url) as hub:
            await push(clinic.store, clinic.member, hub.url)
            await asyncio.to_thread(membership.revoke, founder.store, founder.member, lost.device, user=founder.user.id)
            at_base = await push(founder.store, founder.member, hub.url)  # a revocation made at base, sent up
            assert at_base.received == 31  # and the clinic's entries came down
            report = await push(clinic.store, clinic.member, hub.url)
            assert report.sent == 0 and report.received > 0
            again = await push(clinic.store, clinic.member, hub.url)
            devices = {d["device"]: d for d in await asyncio.to_thread(hub.storage.devices)}
    assert again.received == 0
    assert lost.device in await asyncio.to_thread(clinic.store.revoked)
    assert await asyncio.to_thread(journal, clinic) == await asyncio.to_thread(journal, founder)
    # The registry keeps what each laptop said it holds at its last hello, not the hub's vector.
    assert devices[clinic.device]["vector"] == await asyncio.to_thread(clinic.store.version_vector)
    assert devices[clinic.device]["uploaded"] == 31 and not devices[clinic.device]["revoked"]
