"""Hub benchmarks (issue 5), each figure beside a baseline measured in the same run.

    python bench/hub.py            # 100,000 entries, 300 laptops, a 200-encounter day (about 70 s)
    python bench/hub.py --quick    # 20,000 entries, 60 laptops (about 20 s)
    python bench/hub.py --entries 50000 --laptops 100 --encounters 100 --postgres postgresql://USER@HOST/DB

PostgreSQL defaults to postgres@127.0.0.1:5432/test; each hub gets a schema of its own there
(hub_bench_<run>_<label>), all dropped at the end. Every hub is `fieldkit hub serve` in a process
of its own, as deployed: the laptops' side (this process) shares no interpreter, GIL or event loop
with it, though on a small machine they share the cores (figure 2 prints who used how much CPU).

1. Ingest rate. N real signed entries (the demo clinic, built as bench/run.py and bench/sync.py
   build it) taken from a laptop in batches of 5,000 (the forwarder's largest) and handed to
   `HubStorage.ingest`: the storage layer alone, verification excluded; PostgreSQL (COPY) beside
   SQLite, best of two rounds into an empty hub. Then the same entries end to end through the
   real HTTP hub (mutual TLS, parse, verify, store): one laptop `push`ing with first_batch=5000.
2. Concurrent uploads. L laptops of one network, each with a small day of 5-20 entries plus its
   user, all push at once to one hub on loopback; uploads only (pull=False: pulling would make
   each laptop verify and fold everyone else's entries, which measures laptops, not the hub).
   The laptops' stores are plain SQLite (the same library without a key): hundreds of SQLCipher
   stores would only slow the setup, and the hub sees no difference. Reported: per /v1/batch,
   from sending it until its ack with 503 retries included (the figure with the target), each
   HTTP request's answer time and how many were 503, the hub's own time per batch from its log,
   the wall time until every laptop has its ack. PostgreSQL, then SQLite with the same laptops.
3. One clinic day on the wire. A laptop (SQLCipher) in a network holding figure 2's laptops: it
   forwarded its enrolment entry and received the others' entries yesterday (not counted), then
   records one day, 200 demo patients each registered and seen once (vitals, scores, diagnoses,
   prescriptions, referrals and follow-ups as the demo makes them). Counted: what `fieldkit hub
   push` sends for that day (hello, batches, pull), every byte both ways through a TCP relay, TLS
   included, that simulates 256 kbit/s with a 500 ms round trip (each chunk paced to 32,000
   bytes/s per direction, then delayed 250 ms). Baseline: the same day pushed to a second,
   identical hub through a relay that only counts (loopback speed).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from run import build_changes, percentile  # noqa: E402 - bench/ is not a package
from sync import enrolled, laptop  # noqa: E402

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
KEY = bytes(range(32))  # the SQLite hub is measured encrypted, as it runs
APPEND_BATCH = 2000
INGEST_BATCH = 5000  # the forwarder's MAX_BATCH: the largest batch a laptop ever sends
DAY = date(2026, 11, 22)
LINK_RATE = 32_000  # bytes/s per direction: 256 kbit/s
LINK_DELAY = 0.25  # seconds each way: a 500 ms round trip
BACKENDS = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}
CHUNK = 1460  # bytes the relay carries at a time, about one TCP segment: pacing stays smooth


# -- the hub: its identity, its database, its process ---------------------------------------------

def enrol_hub(data: Path, founder) -> None:
    """What `fieldkit hub init` and `fieldkit hub join` leave in the hub's data directory."""
    from fieldkit.hub import identity
    from fieldkit.sync import certs

    identity.init(data)
    network = founder.network
    identity.join(data, network, certs.enrol(founder.network_key, network, identity.public(data)))


class Postgres:
    """Schemas of this run in one PostgreSQL database, each hub's tables in its own; all dropped at the end."""

    def __init__(self, url: str) -> None:
        self.url, self.run, self.schemas = url, uuid.uuid4().hex[:8], []

    def connect(self):
        import psycopg

        return psycopg.connect(self.url, autocommit=True)

    def schema(self, label: str) -> str:
        name = f"hub_bench_{self.run}_{label}"
        with self.connect() as conn:
            conn.execute(f"CREATE SCHEMA {name}")
        self.schemas.append(name)
        return f"{self.url}{'&' if '?' in self.url else '?'}options=-csearch_path%3D{name}"

    def drop(self) -> None:
        with self.connect() as conn:
            for name in self.schemas:
                conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


@contextmanager
def hub_process(data: Path, url: str) -> Iterator["RunningHub"]:
    """`fieldkit hub serve` in a process of its own, its request log (one JSON line each) kept."""
    log = data / f"hub-{uuid.uuid4().hex[:6]}.log"
    with open(log, "w") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "fieldkit", "hub", "serve", "--data", str(data),
                                    "--host", "127.0.0.1", "--port", "0", "--database", url],
                                   env={**os.environ, "FIELDKIT_HUB_KEY": KEY.hex()},
                                   cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        line = process.stdout.readline()
        port = re.search(r":(\d+) \(", line)
        if not port:
            raise SystemExit(f"the hub did not start: {line!r}\n{log.read_text()[-2000:]}")
        yield RunningHub(int(port.group(1)), log, process.pid)
    finally:
        process.terminate()
        process.wait()


@dataclass
class RunningHub:
    port: int
    log: Path
    pid: int

    def cpu_seconds(self) -> float:
        """CPU time the hub's process has used so far, all its threads (Linux /proc)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def requests(self, path: str) -> list[dict]:
        """The hub's log lines for `path` so far: status, ms (its own time), entries."""
        lines = (json.loads(line) for line in self.log.read_text().splitlines() if line.startswith("{"))
        return [line for line in lines if line.get("path") == path]


def stored(url: str) -> int:
    from fieldkit.hub.storage import HubStorage

    storage = HubStorage.open(url, KEY)
    try:
        return storage.count()
    finally:
        storage.close()


# -- the laptops' side ------------------------------------------------------------------------------

@dataclass
class Requests:
    """What one or more laptops' clients saw: each HTTP request's answer time and status, and each
    message's time until its answer with retries included."""

    answers: list[tuple[str, int, float]] = field(default_factory=list)  # path, status, seconds
    replies: list[tuple[str, float]] = field(default_factory=list)  # path, seconds until the reply
    body_bytes: Counter = field(default_factory=Counter)  # path: framed message bytes sent

    def answered(self, path: str, status: int | None = None) -> list[float]:
        return [s for p, code, s in self.answers if p == path and (status is None or code == status)]

    def replied(self, path: str) -> list[float]:
        return [s for p, s in self.replies if p == path]


def timed_client(url: str, member, requests: Requests, *, count_bodies: bool = False):
    """The forwarder's own HubClient, timing each request with aiohttp's tracing hooks."""
    import aiohttp

    from fieldkit.sync import messages
    from fieldkit.sync.forwarder import HubClient
    from fieldkit.sync.wire import encode

    async def started(session, context, params) -> None:
        context.started = time.perf_counter()

    async def ended(session, context, params) -> None:  # the answer's headers are in
        requests.answers.append((params.url.path, params.response.status, time.perf_counter() - context.started))

    class TimedClient(HubClient):
        async def __aenter__(self):
            trace = aiohttp.TraceConfig()
            trace.on_request_start.append(started)
            trace.on_request_end.append(ended)
            # As HubClient.__aenter__, with the trace added.
            self._http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=self.member.context(server=False)),
                                               timeout=self.timeout, trace_configs=[trace])
            return self

        async def post(self, path, message, expect):
            if count_bodies:
                requests.body_bytes[path] += len(encode(messages.dump(message)))
            begun = time.perf_counter()
            reply = await super().post(path, message, expect)
            requests.replies.append((path, time.perf_counter() - begun))
            return reply

    return TimedClient(url, member)


async def push(store, member, url: str, requests: Requests, *, count_bodies: bool = False, **options):
    """The forwarder's push, with the timed client."""
    from fieldkit.sync.forwarder import push as forward

    return await forward(store, member, url, client=timed_client(url, member, requests, count_bodies=count_bodies),
                         **options)


# -- 1. ingest ---------------------------------------------------------------------------------------

def source_laptop(tmp: Path, entries: int):
    """The network's founding laptop holding `entries` demo entries (plus its own user entry), signed."""
    from fieldkit.sync import membership

    t = time.perf_counter()
    changes = build_changes(max(1, round(entries / 2.92)))[:entries]  # the demo journals ~2.9 per patient
    generated = time.perf_counter() - t
    store, user = laptop(tmp / "founder.db", None)
    member = membership.create(store, "bench network")
    t = time.perf_counter()
    for i in range(0, len(changes), APPEND_BATCH):
        store.append(changes[i:i + APPEND_BATCH], user=user.id)
    store.sign_checkpoints(member.sign)
    print(f"generated {len(changes):,} changes in {generated:.1f} s, journalled in {time.perf_counter() - t:.1f} s",
          flush=True)
    # The generated clinic is dead weight from here: left alive, each garbage collection walks it.
    del changes
    gc.collect()
    return store, member


def outgoing_batches(store) -> list:
    """Everything the laptop holds as the forwarder would send it to an empty hub, 5,000 at a time."""
    batches, vector = [], {}
    while (out := store.outgoing(vector, INGEST_BATCH)).entries:
        batches.append(out)
        vector |= {c.origin: c.seq for c in out.checkpoints}
    return batches


def timed_ingest(url: str, batches: list) -> float:
    """Seconds to store every batch through HubStorage.ingest, from opening an empty hub to the last commit."""
    from fieldkit.hub.storage import HubStorage

    storage = HubStorage.open(url, KEY)  # creates the tables: not timed
    try:
        t = time.perf_counter()
        for out in batches:
            storage.ingest(out.entries, out.checkpoints, out.certificates)
        elapsed = time.perf_counter() - t
        assert storage.count() == sum(len(out.entries) for out in batches)
    finally:
        storage.close()
    return elapsed


def ingest(tmp: Path, pg: Postgres, store, member, hub_data: Path) -> dict:
    batches = outgoing_batches(store)
    total = sum(len(out.entries) for out in batches)
    result = {"entries": total, "batches": len(batches)}
    # Two rounds each, alternating, into empty hubs: this machine's timings wander from run to run.
    rounds = {"postgresql": [], "sqlite": []}
    for i in range(2):
        rounds["postgresql"].append(timed_ingest(pg.schema(f"ingest{i}"), batches))
        rounds["sqlite"].append(timed_ingest(f"sqlite:///{tmp / f'ingest{i}.db'}", batches))
    for kind, seconds in rounds.items():
        result[f"{kind}_s"] = min(seconds)
        result[f"{kind}_rounds"] = seconds
    del batches
    gc.collect()
    for kind, url in (("postgresql", pg.schema("e2e")), ("sqlite", f"sqlite:///{tmp / 'e2e.db'}")):
        requests = Requests()
        with hub_process(hub_data, url) as hub:
            report = asyncio.run(push(store, member, hub.url, requests, first_batch=INGEST_BATCH, pull=False))
            hub_ms = sum(line["ms"] for line in hub.requests("/v1/batch"))
        assert report.sent == total and stored(url) == total, (report.sent, total)
        result[f"e2e_{kind}"] = {"seconds": report.seconds, "batches": report.batches, "hub_s": hub_ms / 1e3}
    return result


# -- 2. concurrent uploads -----------------------------------------------------------------------------

def small_days(tmp: Path, founder, count: int) -> list:
    """`count` laptops enrolled in the founder's network, each with 5-20 entries of demo work."""
    from fieldkit.records.demo import people, person_changes

    laptops = []
    for i in range(count):
        store, user, member = enrolled(tmp / f"laptop{i}.db", None, founder)
        rng = random.Random(i)
        changes = [c for person in people(12, seed=1000 + i, today=DAY) for c in person_changes(person)]
        store.append(changes[:rng.randint(5, 20)], user=user.id)
        laptops.append((store, member))
    return laptops


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def upload_at_once(laptops: list, hub: RunningHub) -> dict:
    """Every laptop pushes at the same moment; what each saw, and the hub's own view."""
    # One executor thread per laptop for its store calls (asyncio.to_thread), as if each were its
    # own machine: the default pool of 6 would make laptops queue behind one another here.
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=len(laptops)))
    requests = Requests()
    hub_cpu, our_cpu = hub.cpu_seconds(), cpu_seconds()
    t = time.perf_counter()
    reports = await asyncio.gather(*(push(store, member, hub.url, requests, pull=False) for store, member in laptops),
                                   return_exceptions=True)
    wall = time.perf_counter() - t
    hub_cpu, our_cpu = hub.cpu_seconds() - hub_cpu, cpu_seconds() - our_cpu
    failures = [r for r in reports if isinstance(r, BaseException)]
    log = hub.requests("/v1/batch")
    return {"wall_s": wall, "failed": failures, "hub_cpu_s": hub_cpu, "laptops_cpu_s": our_cpu,
            "answers": requests.answered("/v1/batch"), "acks": requests.replied("/v1/batch"),
            "hellos": requests.answered("/v1/hello"), "client_503": len(requests.answered("/v1/batch", 503)),
            "hub_ms": [line["ms"] for line in log if line["status"] == 200],
            "hub_statuses": Counter(line["status"] for line in log)}


def concurrent(tmp: Path, pg: Postgres, founder, hub_data: Path, count: int) -> dict:
    t = time.perf_counter()
    laptops = small_days(tmp, founder, count)
    expected = sum(sum(store.version_vector().values()) for store, _ in laptops)
    print(f"{count} laptops enrolled with {expected:,} entries in {time.perf_counter() - t:.1f} s", flush=True)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # a socket per laptop, on top of its store's files
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    result = {"laptops": count, "entries": expected}
    for kind, url in (("postgresql", pg.schema("fleet")), ("sqlite", f"sqlite:///{tmp / 'fleet.db'}")):
        with hub_process(hub_data, url) as hub:
            result[kind] = asyncio.run(upload_at_once(laptops, hub))
        result[kind]["stored"] = stored(url)
    # What the hub now holds of each laptop (signed by the push), for figure 3's hubs to start from.
    result["uploads"] = [store.outgoing({}, 100) for store, _ in laptops]
    for store, _ in laptops:
        store.close()
    return result


# -- 3. one clinic day on the wire ------------------------------------------------------------------------

class Link:
    """A TCP relay counting every byte each way (TLS records included) and, given a rate, a slow
    link: each chunk is paced to `rate` bytes/s per direction, then delayed `delay` s, in order."""

    def __init__(self, target_port: int, rate: float | None = None, delay: float = 0.0) -> None:
        self.target_port, self.rate, self.delay = target_port, rate, delay
        self.bytes = {"up": 0, "down": 0}
        self._free = {"up": 0.0, "down": 0.0}  # when each direction of the link is next idle
        self._pipes: list[asyncio.Task] = []

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._pipe, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    @property
    def connections(self) -> int:
        return len(self._pipes)

    async def stop(self) -> None:
        """Once the client has closed: what is still on the link is delivered before it stops."""
        self.server.close()
        await self.server.wait_closed()
        await asyncio.wait_for(asyncio.gather(*self._pipes, return_exceptions=True), 10)

    async def _pipe(self, reader, writer) -> None:
        self._pipes.append(asyncio.current_task())
        target_reader, target_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        await asyncio.gather(self._carry(reader, target_writer, "up"), self._carry(target_reader, writer, "down"),
                             return_exceptions=True)

    async def _carry(self, source, sink, direction: str) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()

        async def receive() -> None:
            while data := await source.read(CHUNK):
                self.bytes[direction] += len(data)
                # The link sends one chunk after another at its rate; each arrives `delay` later.
                sent = max(self._free[direction], loop.time()) + (len(data) / self.rate if self.rate else 0.0)
                self._free[direction] = sent
                queue.put_nowait((sent + self.delay, data))
            queue.put_nowait((0.0, b""))

        async def deliver() -> None:
            try:
                while (item := await queue.get())[1]:
                    await asyncio.sleep(max(0.0, item[0] - loop.time()))
                    sink.write(item[1])
                    await sink.drain()
            finally:
                sink.close()

        await asyncio.gather(receive(), deliver())


def clinic_day(encounters: int) -> list:
    """One day at a mobile clinic: `encounters` demo patients, each registered and seen once."""
    from fieldkit.records.demo import Person, people, person_changes

    day = []
    for person in people(10 * encounters, seed=4242, today=DAY):
        if person.encounters:
            day += person_changes(Person(person.patient, person.encounters[:1]))
            encounters -= 1
            if not encounters:
                return day
    raise AssertionError("the demo ran out of patients")


async def day_push(store, member, link: Link) -> dict:
    """What `fieldkit hub push` runs (hello, batches, pull) through `link`; what it cost."""
    from fieldkit.sync import messages
    from fieldkit.sync.wire import encode

    relay_port = await link.start()
    requests = Requests()
    try:
        report = await push(store, member, f"https://127.0.0.1:{relay_port}", requests, count_bodies=True)
    finally:
        await link.stop()
    return {"seconds": report.seconds, "batch_sizes": report.batch_sizes,
            "up": link.bytes["up"], "down": link.bytes["down"], "connections": link.connections,
            "requests": Counter(path for path, _ in requests.replies), "body_up": sum(requests.body_bytes.values()),
            "batch_bodies": requests.body_bytes["/v1/batch"],
            # Each hello carries a whole vector, one origin per laptop in the network.
            "origins": len(report.hub_vector), "vector_frame": len(encode(messages.dump(messages.Ack(
                vector=report.hub_vector))))}


def network_hub(url: str, uploads: list) -> None:
    """A hub holding what the network's other laptops forwarded (figure 2's), as a real one would."""
    from fieldkit.hub.storage import HubStorage

    storage = HubStorage.open(url, KEY)
    try:
        for out in uploads:
            storage.ingest(out.entries, out.checkpoints, out.certificates)
    finally:
        storage.close()


def wire(tmp: Path, pg: Postgres, founder, hub_data: Path, encounters: int, uploads: list) -> dict:
    from fieldkit.sync.forwarder import push as forward

    store, user, member = enrolled(tmp / "day.db", os.urandom(32), founder)
    hubs = {"link": pg.schema("day_link"), "loopback": pg.schema("day_loopback")}
    for url in hubs.values():
        network_hub(url, uploads)
    held = sum(len(out.entries) for out in uploads)
    with hub_process(hub_data, hubs["link"]) as link_hub, hub_process(hub_data, hubs["loopback"]) as loop_hub:
        # Yesterday, not counted: the laptop forwarded its first entry (its user) with its
        # certificate, and received the others' entries. So today's pull has nothing to bring,
        # and the push carries only the day (and the vectors the hellos hold).
        for hub in (link_hub, loop_hub):
            asyncio.run(forward(store, member, hub.url))
        assert sum(store.version_vector().values()) == held + 1
        day = clinic_day(encounters)
        store.append(day, user=user.id)
        result = {"changes": len(day), "entities": Counter(c.entity for c in day),
                  "json_bytes": sum(len(json.dumps(c.payload, ensure_ascii=False).encode()) for c in day)}
        result["loopback"] = asyncio.run(day_push(store, member, Link(loop_hub.port)))
        result["link"] = asyncio.run(day_push(store, member, Link(link_hub.port, rate=LINK_RATE, delay=LINK_DELAY)))
    for kind, url in hubs.items():
        assert stored(url) == held + 1 + len(day), kind
    store.close()
    return result


# -- the report --------------------------------------------------------------------------------------------

def spread(values: list[float], unit: float = 1e3) -> str:
    if not values:
        return "none"
    return (f"p50 {percentile(values, 50) * unit:,.0f}  p95 {percentile(values, 95) * unit:,.0f}  "
            f"max {max(values) * unit:,.0f} ms")


def report(figures: dict) -> None:
    print(f"\nhub benchmarks  ({os.cpu_count()} cores, Python {sys.version.split()[0]}; "
          "each hub is `fieldkit hub serve` in its own process)")

    one = figures["ingest"]
    rate = {kind: one["entries"] / one[f"{kind}_s"] for kind in BACKENDS}
    print(f"\n1. ingest of {one['entries']:,} entries in {one['batches']} batches of up to {INGEST_BATCH:,}")
    print("   storage layer (HubStorage.ingest; verification excluded), best of 2 into an empty hub:")
    for kind, label in BACKENDS.items():
        rounds = ", ".join(f"{seconds:.2f}" for seconds in one[f"{kind}_rounds"])
        print(f"     {label:<11} {rate[kind]:9,.0f} entries/s   ({rounds} s)")
    print(f"     target >= 20,000/s on PostgreSQL; baseline SQLite: PostgreSQL is "
          f"{rate['postgresql'] / rate['sqlite']:.2f}x its rate")
    print(f"   end to end (one laptop pushing, first_batch={INGEST_BATCH:,}: mutual TLS, parse, verify, store):")
    for kind, label in BACKENDS.items():
        e2e = one[f"e2e_{kind}"]
        print(f"     {label:<11} {one['entries'] / e2e['seconds']:9,.0f} entries/s   {e2e['seconds']:.1f} s, "
              f"{e2e['batches']} batches; the hub busy {e2e['hub_s']:.1f} s of it (its log), "
              f"the rest the laptop's side and the transfer")

    two = figures["concurrent"]
    print(f"\n2. {two['laptops']} laptops ({two['entries']:,} entries, 5-20 each plus their user) "
          "push at once over mutual TLS on loopback, uploads only:")
    for kind, label in BACKENDS.items():
        row = two[kind]
        print(f"   {label}: all acknowledged in {row['wall_s']:.1f} s; "
              f"{row['stored']:,}/{two['entries']:,} entries stored; {len(row['failed'])} laptops failed"
              + (f" ({type(row['failed'][0]).__name__}: {row['failed'][0]})" if row["failed"] else ""))
        print(f"     /v1/batch ack, retries included    {spread(row['acks'])}   (target p95 < 2,000 ms)")
        print(f"     each /v1/batch request's answer     {spread(row['answers'])}   "
              f"{row['client_503']} of {len(row['answers'])} were 503 (busy)")
        print(f"     the hub's own time per stored batch {spread([ms / 1e3 for ms in row['hub_ms']])}   "
              f"(its log; statuses {dict(sorted(row['hub_statuses'].items()))})")
        print(f"     /v1/hello (TLS handshake included)  {spread(row['hellos'])}")
        print(f"     CPU meanwhile: the hub's process {row['hub_cpu_s']:.1f} s, the laptops' {row['laptops_cpu_s']:.1f} s, "
              f"of {os.cpu_count()} cores x {row['wall_s']:.1f} s (the rest: PostgreSQL, the kernel, idle)")

    three = figures["wire"]
    link, loop = three["link"], three["loopback"]
    entities = ", ".join(f"{n} {kind}" for kind, n in three["entities"].most_common())
    print(f"\n3. one clinic day: {three['changes']} entries ({entities}); "
          f"{three['json_bytes'] / 1e3:.0f} KB of payload JSON")
    print(f"   `fieldkit hub push` the day after (hello, batches, pull) in a network of {link['origins']} laptops, "
          "every byte on the wire:")
    for label, row in (("256 kbit/s, 500 ms RTT", link), ("loopback (baseline)", loop)):
        requests = ", ".join(f"{n} {path.removeprefix('/v1/')}" for path, n in row["requests"].items())
        print(f"     {label:<23} {row['seconds']:6.1f} s   up {row['up']:,} + down {row['down']:,} = "
              f"{row['up'] + row['down']:,} bytes   ({requests}; batches {row['batch_sizes']})")
    print(f"     target < 100,000 bytes. Of the {link['up']:,} bytes up, {link['batch_bodies']:,} are the batches' "
          f"frames (zlib JSON), {link['body_up'] - link['batch_bodies']:,} the hello's (and pull's), the rest TLS and HTTP;")
    print(f"     the two hellos each hold a vector of all {link['origins']} laptops, {link['vector_frame']:,} bytes "
          f"framed, ~{2 * link['vector_frame']:,} of the bytes whatever the day held (acks: the batch's origins only)")
    round_trips = 2 + sum(link["requests"].values())  # TCP connect, TLS 1.3 handshake, then each request
    print(f"     on the link: {round_trips} round trips ({link['connections']} TCP+TLS connection, "
          f"{sum(link['requests'].values())} requests) are {round_trips * 2 * LINK_DELAY:.1f} s, "
          f"the bytes up {link['up'] / LINK_RATE:.1f} s of the link's time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="20,000 entries and 60 laptops")
    parser.add_argument("--entries", type=int, help="entries for the ingest figure [100,000]")
    parser.add_argument("--laptops", type=int, help="laptops uploading at once [300]")
    parser.add_argument("--encounters", type=int, default=200, help="the clinic day's encounters [200]")
    parser.add_argument("--postgres", default=POSTGRES, help=f"PostgreSQL to bench on [{POSTGRES}]")
    args = parser.parse_args()
    entries = args.entries or (20_000 if args.quick else 100_000)
    laptops = args.laptops or (60 if args.quick else 300)

    pg = Postgres(args.postgres)
    try:
        pg.connect().close()
    except Exception as exc:
        raise SystemExit(f"no PostgreSQL at {args.postgres}: {exc}") from None
    figures = {}
    try:
        with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
            tmp = Path(tmp)
            store, founder = source_laptop(tmp, entries)
            enrol_hub(tmp / "hub", founder)
            figures["ingest"] = ingest(tmp, pg, store, founder, tmp / "hub")
            store.close()
            print("ingest done", flush=True)
            figures["concurrent"] = concurrent(tmp, pg, founder, tmp / "hub", laptops)
            print("concurrent uploads done", flush=True)
            figures["wire"] = wire(tmp, pg, founder, tmp / "hub", args.encounters,
                                   figures["concurrent"].pop("uploads"))
    finally:
        pg.drop()
    report(figures)


if __name__ == "__main__":
    main()
