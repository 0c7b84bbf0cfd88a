"""T4-T6, T9, T10: hostile input on every hub route and every LAN message, from an enrolled laptop.

What an attacker holding a network certificate can send: random bytes, frames that lie about their
length or flag, zip bombs, JSON of the wrong shape, real messages with one field changed, real
signed batches with one bit flipped, and batches replayed. The hub and a serving laptop must refuse
each in words (a 4xx with an `error` frame on the hub, an `error` frame on the LAN), log each
refusal, never answer with a server error or crash a session, and store nothing: a replay adds
nothing, a tampered batch is never accepted. A genuine upload or session still works afterwards.

Inputs come from a seeded generator (hostile_support); FIELDKIT_SEED replays a run. The schema
fuzz runs schemathesis against the hub's own /openapi.json, as a laptop would call it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field

import aiohttp
import pytest
import requests
import schemathesis
from campaign_support import record, scaled
from hostile_support import carries, complete, hostile, meaning, plain, seeded
from hostile_support import flipped as bit_flipped
from hub_support import enrol_hub, hub_process, running_hub
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from sync_support import Laptop, journal, network, sync

from fieldkit.errors import FieldkitError
from fieldkit.hub.openapi import OPENAPI
from fieldkit.store.hlc import wall_ms
from fieldkit.store.journal import SCHEMA_VERSION
from fieldkit.sync import messages
from fieldkit.sync.forwarder import push
from fieldkit.sync.peer import Server, sync_with
from fieldkit.sync.session import PeerRefused
from fieldkit.sync.wire import FRAME, MAX_FRAME, Channel, ProtocolError, encode, unframe

ROUTES = ("/v1/hello", "/v1/batch", "/v1/pull")
SPACING = 3  # entries between signed checkpoints: many small batches, each one request or one message


def register(laptop: Laptop, count: int, tag: str) -> None:
    for number in range(count):
        laptop.clinic.register({"given_name": f"{tag}{number}", "family_name": "Hostile", "sex": "female"})


def batches(holder: Laptop, vector: dict[str, int], origin: str, limit: int = SPACING) -> list[dict]:
    """`origin`'s entries that the holder of `vector` lacks, as the signed batches a laptop sends."""
    others = {other: 2**62 for other in holder.store.version_vector() if other != origin}
    vector, out = {**vector, **others}, []
    while (chosen := holder.store.outgoing(vector, limit)).entries:
        out.append(messages.dump(messages.batch(chosen)))
        vector[origin] = chosen.checkpoints[-1].seq
    return out


def hello(laptop: Laptop) -> dict:
    vector = laptop.store.version_vector()
    return messages.dump(messages.Hello(protocol=messages.PROTOCOL, schema=SCHEMA_VERSION, network=laptop.member.network.id,
                                        device=laptop.device, clock=wall_ms(), vector=vector,
                                        heads=laptop.store.hashes(vector)))


def refusal_text(status: int, body: bytes) -> str:
    """What a refused laptop is told: one line, from an `error` frame (or plain text for 401)."""
    try:
        said = messages.parse(unframe(body))
        text = said.message if isinstance(said, messages.Error) else ""
    except ProtocolError:
        text = body.decode(errors="replace")
    assert text.strip() and "\n" not in text.strip() and "Traceback" not in text, (status, body[:300])
    return text


# -- the hub: every sync route, over one keep-alive mutual-TLS connection ------------------------

@dataclass
class HubUnderFire:
    url: str
    client: aiohttp.ClientSession
    storage: object
    sent: list[tuple[str, int]] = field(default_factory=list)  # (route, status) of every request, in order

    async def post(self, route: str, body: bytes) -> tuple[int, bytes]:
        async with self.client.post(self.url + route, data=body, headers={"Content-Type": FRAME}) as response:
            answer = await response.read()
        self.sent.append((route, response.status))
        assert response.status < 500, (route, response.status, answer[:300])
        if response.status != 200:
            refusal_text(response.status, answer)
        return response.status, answer

    def held(self) -> tuple[int, dict[str, int]]:
        return self.storage.count(), self.storage.version_vector()


def hub_log(caplog) -> list[dict]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "fieldkit.hub"]


async def test_the_hub_refuses_hostile_input_on_every_route_and_stores_none_of_it(tmp_path, tmp_path_factory, caplog):
    caplog.set_level(logging.INFO, logger="fieldkit.hub")
    rng = seeded("hub")
    laptops = await asyncio.to_thread(network, tmp_path, 3)
    for number, laptop in enumerate(laptops):
        await asyncio.to_thread(register, laptop, 12, f"h{number}-")
        laptop.store.sign_checkpoints(laptop.member.sign, every=SPACING)
    # Each laptop's batches; the hub is given all but the last of two laptops' and none of the third's,
    # so each held-back batch is what the hub would store next: a flip that got through would be stored.
    chains = [batches(laptop, {}, laptop.device) for laptop in laptops]
    stored, pending = chains[0][:-1] + chains[1][:-1], [chains[0][-1], chains[1][-1], chains[2][0]]
    assert pending[2]["certificates"], "the third laptop's first batch carries its certificate"
    uploader = laptops[0]
    enrol_hub(tmp_path / "hub", uploader)
    genuine = {"/v1/hello": hello(uploader), "/v1/pull": messages.dump(messages.Ack(vector={}))}
    figures = {"malformed": 0, "flipped": 0, "replayed": 0, "same meaning, not sent": 0, "oversize": 0}
    async with running_hub(tmp_path / "hub", f"sqlite:///{tmp_path / 'hub' / 'hub.db'}") as hub:
        connector = aiohttp.TCPConnector(ssl=uploader.member.context(server=False), limit=1)
        async with aiohttp.ClientSession(connector=connector) as client:
            fire = HubUnderFire(hub.url, client, hub.storage)
            for message in stored:
                assert (await fire.post("/v1/batch", encode(message)))[0] == 200
            before = fire.held()

            per_route = scaled(2000, 50_000)
            for number in range(per_route * len(ROUTES)):  # T4: malformed, each route in turn
                route = ROUTES[number % len(ROUTES)]
                message = genuine.get(route) or rng.choice(pending)
                while meaning(body := (made := hostile(rng, message))[1]) == meaning(plain(message)):
                    figures["same meaning, not sent"] += 1
                how = made[0]
                status, _ = await fire.post(route, body)
                figures["malformed"] += 1
                if status == 200 and route == "/v1/batch":
                    assert fire.held() == before, (how, body[:300])
            for route in ROUTES:  # T5: over the body limit, refused before it is all buffered
                body = plain(genuine.get(route) or pending[0]) + b" " * (MAX_FRAME + 16)
                assert (await fire.post(route, body))[0] == 413
                figures["oversize"] += 1

            for _ in range(scaled(4000, 33_000)):  # T10: one bit flipped in a signed batch
                made = bit_flipped(rng, rng.choice(pending), encode)
                if made is None:
                    figures["same meaning, not sent"] += 1
                    continue
                where, body = made
                status, _ = await fire.post("/v1/batch", body)
                figures["flipped"] += 1
                assert status in (400, 403, 409), (where, status)

            for number in range(scaled(200, 2000)):  # T9: a stored batch again: acknowledged, nothing added
                status, answer = await fire.post("/v1/batch", encode(stored[number % len(stored)]))
                ack = messages.parse(unframe(answer))
                assert status == 200 and isinstance(ack, messages.Ack)
                assert all(before[1][origin] == seq for origin, seq in ack.vector.items())
                figures["replayed"] += 1
            assert fire.held() == before  # 0 accepted, 0 stored

            for message in pending:  # the held-back batches themselves are stored: the refusals were the flips'
                assert (await fire.post("/v1/batch", encode(message)))[0] == 200
            assert fire.held()[0] == before[0] + sum(len(message["entries"]) for message in pending)

    lines = hub_log(caplog)
    assert [(line["path"], line["status"]) for line in lines] == fire.sent  # one line per request
    refused = [line for line in lines if line["status"] != 200]
    assert refused and all(line["reason"] and line["peer"] == "127.0.0.1" for line in refused)
    inputs = figures["malformed"] + figures["oversize"]
    record(tmp_path_factory, "T4/T5 hostile input to the hub", inputs=inputs, lost=0, server_errors=0,
           per_route=per_route, refusals_logged=len(refused))
    record(tmp_path_factory, "T9/T10 replayed and tampered batches to the hub", inputs=figures["flipped"] +
           figures["replayed"], lost=0, server_errors=0, flipped=figures["flipped"], replayed=figures["replayed"])


# -- the LAN: every message type at every stage of a session, after a genuine TLS handshake -------

KINDS = ("hello", "batch", "ack", "done", "error")
# After the hostile input, a frame no laptop sends: if the session refuses it, the input before it passed.
SENTINEL = plain({"kind": "sentinel"})


@dataclass
class Serving:
    """`there` listening; each session's (report, address, error) as the server's owner sees it."""

    server: Server
    ended: asyncio.Queue
    context: object
    outcomes: dict[str, int] = field(default_factory=dict)

    async def attack(self, frames: list[bytes]) -> tuple[object, Exception | None, list[dict]]:
        """One session of raw frames from an enrolled laptop: (server's report, its error, what it sent us)."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.server.port, ssl=self.context)
        address = "{}:{}".format(*writer.get_extra_info("sockname")[:2])
        data, said = b"".join(frames), []
        writer.write(data + (SENTINEL if complete(data) else b""))
        if complete(data):
            channel = Channel(reader, writer, timeout=20)
            try:
                while True:
                    said.append(await channel.receive())
            except ProtocolError:
                pass  # the server hung up, as it does after each session
        writer.close()
        try:
            await writer.wait_closed()
        except (ConnectionError, OSError):
            pass
        report, peer, error = await asyncio.wait_for(self.ended.get(), 30)
        assert peer == address
        return report, error, said

    def judge(self, report, error: Exception | None, said: list[dict], tampered: bool = False, label: str = "") -> str:
        """The session's outcome; asserts what every session must show whatever it was sent."""
        assert error is None or isinstance(error, FieldkitError), repr(error)  # a crash would be anything else
        if error is None:
            outcome = "completed"
        elif "sentinel" in str(error):
            outcome = "passed"
        elif isinstance(error, PeerRefused):
            outcome = "peer refused"  # the hostile laptop sent an `error`: its reason is the one logged
        elif not said:
            outcome = "hung up"
        else:
            outcome = "refused"
            told = [m["message"] for m in said if m.get("kind") == "error"]
            assert told == [str(error)[:500]], (told, error)  # one refusal, in words, to the laptop
        assert not (tampered and outcome in ("completed", "passed")), (label, outcome, error)
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        return outcome


async def test_a_laptop_refuses_hostile_input_on_every_message_and_stage(tmp_path, tmp_path_factory, caplog):
    caplog.set_level(logging.INFO, logger="fieldkit.sync")
    rng = seeded("lan")
    there, here, third = await asyncio.to_thread(network, tmp_path, 3)
    for laptop, tag in ((there, "t"), (here, "h")):
        await asyncio.to_thread(register, laptop, 6, tag)
    await sync(here, there)  # both hold the same: a hostile session is answered with a hello and `done` only
    replays = [*batches(here, {}, there.device, 50), *batches(here, {}, here.device, 50)]
    await asyncio.to_thread(register, here, 5, "p")
    await asyncio.to_thread(register, third, 4, "q")
    await sync(third, here)
    here.store.sign_checkpoints(here.member.sign, every=SPACING)
    held = there.store.version_vector()
    pending = [batches(here, held, here.device)[0], batches(here, held, third.device)[0]]
    assert pending[1]["certificates"], "the third laptop's first batch carries its certificate"
    genuine = {"hello": hello(here), "ack": messages.dump(messages.Ack(vector=here.store.version_vector())),
               "done": messages.dump(messages.Done()), "error": messages.dump(messages.Error(message="cancelled"))}
    opening = [plain(genuine["hello"])]
    # Where in a session each kind arrives: first, after the hellos, after our `done`, or (hello) twice.
    stages = {"first": [], "after hello": opening, "after done": [*opening, plain(genuine["done"])]}
    before = journal(there)
    ended: asyncio.Queue = asyncio.Queue()

    async def finished(report, address, error) -> None:
        ended.put_nowait((report, address, error))

    per_kind = scaled(2000, 10_000)  # each a session of its own (a TLS handshake)
    figures = dict.fromkeys(KINDS, 0)
    async with Server(there.store, there.member, host="127.0.0.1", on_session=finished, timeout=10) as server:
        serving = Serving(server, ended, here.member.context(server=False))
        for number in range(per_kind * len(KINDS)):  # T4 on the LAN: each kind, malformed, at each stage
            kind = KINDS[number % len(KINDS)]
            message = genuine.get(kind) or rng.choice(pending)
            while carries(body := (made := hostile(rng, message))[1], message):
                pass
            how = made[0]
            stage = rng.choice(["first", "again"] if kind == "hello" else ["first", *["after hello"] * 4, "after done"])
            serving.judge(*await serving.attack([*stages.get(stage, opening), body]))
            figures[kind] += 1
            assert there.store.version_vector() == held, (kind, stage, how)

        flips = 0
        while flips < scaled(600, 10_000):  # T10: one bit flipped in a batch it lacks: never accepted
            made = bit_flipped(rng, rng.choice(pending), encode)
            if made:
                serving.judge(*await serving.attack([*opening, made[1]]), tampered=True, label=made[0])
                flips += 1
        assert there.store.version_vector() == held

        replayed = 0
        for _ in range(scaled(10, 100)):  # T9: batches it holds, again and again: acknowledged, nothing added
            report, error, said = await serving.attack([*opening, *map(encode, replays), plain(genuine["done"]),
                                                        plain(genuine["ack"])])
            assert serving.judge(report, error, said) == "completed"
            assert report.received == 0 and report.already_held == sum(len(b["entries"]) for b in replays)
            replayed += len(replays)
        assert journal(there) == before  # nothing stored from any of it

        mine = await sync_with(here.store, here.member, "127.0.0.1", server.port)  # it still serves
        await asyncio.wait_for(ended.get(), 30)
    assert mine.sent == sum(len(b["entries"]) for b in batches(here, held, here.device) + batches(here, held, third.device))
    assert journal(there) == journal(here)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # no session crashed
    malformed = sum(figures.values())
    record(tmp_path_factory, "T9/T10 hostile input on the LAN", inputs=malformed + flips + replayed, lost=0,
           server_errors=0, per_kind=min(figures.values()), flipped=flips, replayed=replayed,
           **{f"sessions {name}": count for name, count in sorted(serving.outcomes.items())})


# -- T6: schemathesis against the hub's own OpenAPI description ---------------------------------

def frames() -> st.SearchStrategy[bytes]:
    """Bodies for the frame media type: raw bytes, and framed JSON messages of every kind with any fields."""
    values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
                          lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                       max_size=4), max_leaves=12)
    framed = st.builds(lambda kind, fields: plain({**fields, "kind": kind}),
                       st.sampled_from(("hello", "batch", "ack", "done", "error")),
                       st.dictionaries(st.sampled_from(("protocol", "schema", "network", "device", "clock", "vector",
                                                        "heads", "entries", "checkpoints", "certificates", "message")),
                                       values, max_size=7))
    return st.binary(max_size=300) | framed


schemathesis.openapi.media_type(FRAME, frames())


class MutualTLS(requests.adapters.HTTPAdapter):
    """requests over the laptop's own TLS context: its certificate, the network's CA, no host names
    (a hub is reached by address; the certificate proves the network, not a name)."""

    def __init__(self, context) -> None:
        self.context = context
        super().__init__()

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs, ssl_context=self.context, assert_hostname=False)


@dataclass
class Contract:
    address: str
    session: requests.Session
    statuses: dict[int, int] = field(default_factory=dict)  # every answer's status, counted


@pytest.fixture(scope="module")
def hub_under_contract(tmp_path_factory):
    """`fieldkit hub serve` as its own process, holding a laptop's entries; the laptop's session to it.
    Afterwards: it holds what it held, and the figures go to the campaign's table."""
    root = tmp_path_factory.mktemp("contract")
    [laptop] = network(root, 1)
    register(laptop, 3, "s")
    enrol_hub(root / "hub", laptop)
    with hub_process(root / "hub", f"sqlite:///{root / 'hub' / 'hub.db'}") as (_, address):
        asyncio.run(push(laptop.store, laptop.member, address))
        session = requests.Session()
        session.mount("https://", MutualTLS(laptop.member.context(server=False)))
        held = session.get(f"{address}/health", timeout=30).json()["entries"]
        contract = Contract(address, session)
        yield contract
        assert session.get(f"{address}/health", timeout=30).json()["entries"] == held  # nothing stored
        session.close()
    laptop.store.close()
    calls = sum(contract.statuses.values())
    assert not [status for status in contract.statuses if status >= 500]
    record(tmp_path_factory, "T6 schemathesis against the hub's OpenAPI", inputs=calls, lost=0, server_errors=0,
           operations=len([op for path in OPENAPI["paths"].values() for op in path]),
           statuses=" ".join(f"{status}:{count}" for status, count in sorted(contract.statuses.items())))


@pytest.fixture(scope="module")
def hub_schema(hub_under_contract):
    served = hub_under_contract.session.get(f"{hub_under_contract.address}/openapi.json", timeout=30).json()
    assert served == json.loads(json.dumps(OPENAPI))  # what is fuzzed is what the hub publishes
    return schemathesis.openapi.from_dict(served)


contract = schemathesis.pytest.from_fixture("hub_schema")


@contract.parametrize()
@settings(max_examples=scaled(200, 5000), deadline=None, suppress_health_check=list(HealthCheck))
def test_the_hub_keeps_its_openapi_contract_under_schema_fuzzing(case, hub_under_contract):
    # Every check but one: a frame's contents cannot be said in JSON Schema (a binary string), so any
    # bytes are "schema-valid" to schemathesis though few are a message the hub could accept.
    response = case.call_and_validate(base_url=hub_under_contract.address, session=hub_under_contract.session,
                                      timeout=30, excluded_checks=[schemathesis.checks.positive_data_acceptance])
    statuses = hub_under_contract.statuses
    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
