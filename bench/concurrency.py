"""Search latency while a sync folds batches (issue 14), beside the old design in the same run.

    python bench/concurrency.py                     # 100,000 patients (about eight minutes, mostly seeding)
    python bench/concurrency.py --quick             # 10,000 patients (about two minutes)
    python bench/concurrency.py --patients 50000 --searches 600

Why: a laptop receiving a first sync or a hub pull folds batches of up to 5,000 entries, each
one transaction on the store's writer thread. The store now runs every search on reader threads
(WAL readers never wait for the writer), where the old design ran reads and writes alike on the
one connection, so a search typed during a sync waited for the whole fold of the current batch.

What: one keyed SQLCipher store seeded with N demo patients (`records.demo`, as the clinic screen
would hold them). A second store, another device, journals other demo people; its entries, taken
with `entries_after` 5,000 at a time as a sync would send them, are the batches. Searches are fired
at random moments, 20 a second on average (a seeded Poisson process, the same moments in every
measurement), each on a thread of its own and timed from the moment it was due until its answer,
so that one stuck behind a fold does not hold back the next one's firing and hide the wait. The
queries come from the seeded patients: given, family and full names in every script, name
prefixes and phone suffixes.

  (a) idle                        store.read(search), nothing else running
  (b) during folds                store.read(search) while another thread calls store.ingest(batch),
                                  one 5,000-entry batch after another
  (c) baseline: the old design    store.write(search), on the writer thread, during the same folds

Each prints p50, p95 and max, how many searches, and how many batches were folded meanwhile
(with their fold time, which bounds what a search in (c) waits). Target: p95 < 20 ms at 100,000
patients during a fold; the old design measured 561 ms.

The store's threads share one interpreter, so a search on a reader still competes with the fold
for the GIL on this 2-core machine: (b) includes that cost, as the clinic screen would see it.
Between measurements the WAL is checkpointed, so each starts from the same kind of file.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import types
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from run import load_note, percentile  # noqa: E402 - bench/ is not a package

from fieldkit.store.threads import QUICK_SWITCH_SECONDS, favour_quick_reads  # noqa: E402

BATCH = 5000  # entries per ingest: the forwarder's largest batch, and what a first sync folds at most
APPEND = 2000  # changes per transaction while seeding (bench/run.py's size: quicker than seed_clinic's 400)
DAY = date(2026, 11, 22)  # the demo's "today", fixed so every run seeds the same clinic
SEED_CLINIC, SEED_PEER = 2026, 4242
ENTRIES_PER_PATIENT = 2.9  # the demo journals about this many entries per patient (bench/sync.py)


def say(text: str) -> None:
    """Progress goes to stderr, so stdout holds only the figures."""
    print(text, file=sys.stderr, flush=True)


# -- the stores ------------------------------------------------------------------------------------

def open_store(path: Path):
    """A keyed store of a new device; the key is kept on it for `checkpoint`."""
    from fieldkit.store.db import Store

    key = os.urandom(32)
    store = Store(path, key, device_id=uuid.uuid4().hex)
    store.bench_key = key
    return store


def journal_people(store, count: int, seed: int, *, label: str, stop_at_entries: int | None = None) -> int:
    """Append the demo people of `seed` in chunks of APPEND changes (as seed_clinic does, larger);
    stops after `count` people or once `stop_at_entries` entries are journalled. Returns entries."""
    from fieldkit.records.demo import people, person_changes

    chunk: list = []
    entries, step, started = 0, max(1, count // 20), time.perf_counter()
    for done, person in enumerate(people(count, seed=seed, today=DAY), 1):
        chunk += person_changes(person)
        if len(chunk) >= APPEND or done == count:
            store.append(chunk, user="bench")
            entries += len(chunk)
            chunk = []
            if stop_at_entries and entries >= stop_at_entries:
                break
        if done % step == 0:
            say(f"  {label}: {done:,}/{count:,} people, {entries:,} entries, {time.perf_counter() - started:.0f} s")
    if chunk:
        store.append(chunk, user="bench")
        entries += len(chunk)
    return entries


def peer_batches(path: Path, count: int) -> list[list]:
    """`count` batches of BATCH entries from another device, taken as a sync takes them."""
    peer = open_store(path)
    needed = count * BATCH
    journal_people(peer, int(needed / ENTRIES_PER_PATIENT) + 1000, SEED_PEER, label="peer", stop_at_entries=needed)
    batches, vector = [], {}
    while len(batches) < count:
        batch = peer.entries_after(vector, limit=BATCH)
        if not batch:
            break
        batches.append(batch)
        vector[batch[-1].origin] = batch[-1].seq
    peer.close()
    return batches


def checkpoint(store) -> None:
    """Fold the WAL back into the file: each measurement starts from the same kind of file.

    On a connection of its own: store.write runs its job inside BEGIN IMMEDIATE, where SQLite
    refuses a checkpoint ("database table is locked")."""
    from fieldkit.store.connection import connect

    conn = connect(store.path, store.bench_key)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    finally:
        conn.close()


# -- queries ----------------------------------------------------------------------------------------

def phone_suffix(phone: str) -> str | None:
    """The last digits of a phone as a clerk types them: six at least, not counting leading zeros."""
    digits = "".join(c for c in phone if c.isdigit())
    for length in range(6, 10):
        if len(digits[-length:].lstrip("0")) >= 6:
            return digits[-length:]
    return None


def real_queries(store, count: int, rng: random.Random) -> list[tuple[str, str, str]]:
    """(kind, query, patient id) from `count` seeded patients picked at random, one kind each in turn."""
    # Ordered by what the demo generates (ids are random): the same seed picks the same patients.
    rows = store.read(lambda conn: conn.execute(
        "SELECT id, given_name, family_name, phone FROM patients "
        "ORDER BY given_name, family_name, other_names, phone, birth_date, id").fetchall())
    queries = []
    kinds = ("given name", "family name", "full name", "name prefix", "phone suffix")
    for i, (pid, given, family, phone) in enumerate(rng.sample(rows, count)):
        kind = kinds[i % len(kinds)]
        query = {"given name": given, "family name": family, "full name": f"{given} {family}",
                 "name prefix": (given or "")[:3], "phone suffix": phone_suffix(phone or "")}[kind]
        if query:
            queries.append((kind, query, pid))
    rng.shuffle(queries)
    return queries


def script_of(text: str) -> str:
    """Arabic/Persian, Vietnamese or other Latin, for the query mix's description."""
    if any("\u0600" <= c <= "\u06ff" for c in text):
        return "Arabic script"
    if any(c in "ăâđêôơưĂÂĐÊÔƠƯ" or "\u1ea0" <= c <= "\u1ef9" for c in text):
        return "Vietnamese"
    return "digits" if text.isdigit() else "Latin"


# -- the fold running beside the searches -------------------------------------------------------------

FOLDER_CHILD = """
import sys, orjson
from fieldkit.store.db import Store
from fieldkit.store.journal import Entry
store = Store(__import__("pathlib").Path(sys.argv[1]), bytes.fromhex(sys.stdin.readline().strip()))
print("ready", flush=True)
for line in sys.stdin:
    print(store.ingest([Entry(*row) for row in orjson.loads(line)]).applied, flush=True)
store.close()
"""


class OtherProcess:
    """store.ingest, done by a process of its own on the same file."""

    def __init__(self, store) -> None:
        self.child = subprocess.Popen([sys.executable, "-c", FOLDER_CHILD, str(store.path)], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True, cwd=ROOT)
        self.child.stdin.write(store.bench_key.hex() + "\n")
        self.child.stdin.flush()
        assert self.child.stdout.readline().strip() == "ready"

    def __call__(self, batch):
        import orjson

        self.child.stdin.write(orjson.dumps([e.row() for e in batch]).decode() + "\n")
        self.child.stdin.flush()
        return types.SimpleNamespace(applied=int(self.child.stdout.readline()))

    def close(self) -> None:
        self.child.stdin.close()
        self.child.wait(timeout=60)


class Folder(threading.Thread):
    """Ingests one batch after another, as a sync session receiving them would, until told to stop
    or `count` batches are done. Each ingest is one transaction on the writer thread that folds
    the batch. `batches` is an iterator shared by the measurements: a chain must continue where
    the last measurement left it."""

    def __init__(self, store, batches, count: int, *, elsewhere: bool = False) -> None:
        super().__init__(name="bench-folder", daemon=True)
        self.store, self.batches, self.count = store, batches, count
        # elsewhere: the batches are folded by another process on the same file, as when
        # `fieldkit sync serve` runs beside the clinic screen; this thread only hands them over.
        self.ingest = OtherProcess(store) if elsewhere else store.ingest
        self.stopping, self.started_folding, self.finished = threading.Event(), threading.Event(), threading.Event()
        self.folds: list[tuple[float, float]] = []  # (start, end) of each ingest, perf_counter
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for _ in range(self.count):
                if self.stopping.is_set():
                    return
                batch = next(self.batches, None)  # taken only when it will be folded
                if batch is None:
                    return
                start = time.perf_counter()
                self.started_folding.set()
                applied = self.ingest(batch).applied
                assert applied == len(batch), "a batch was already held: the pool was reused"
                self.folds.append((start, time.perf_counter()))
        except BaseException as exc:  # handed to the measuring thread, which raises it
            self.error = exc
        finally:
            if isinstance(self.ingest, OtherProcess):
                self.ingest.close()
            self.started_folding.set()  # so nobody waits for a fold that will never start
            self.finished.set()

    def folded_between(self, start: float, end: float) -> list[float]:
        """Durations of the folds that overlapped [start, end]."""
        return [b - a for a, b in self.folds if b > start and a < end]


# -- measuring -------------------------------------------------------------------------------------

def on_reader(store, query: str):
    from fieldkit.records.search import search

    return store.read(lambda conn: search(conn, query, limit=20))


def on_writer(store, query: str):
    """The old design: the search waits its turn behind whatever the writer is doing."""
    from fieldkit.records.search import search

    return store.write(lambda tx: search(tx, query, limit=20))


def schedule(count: int, spacing: float) -> list[float]:
    """When each search is fired, in seconds from the start: random moments, `spacing` apart on
    average (a Poisson process, seeded, so every measurement fires at the same moments)."""
    rng, at, moments = random.Random(7), 0.0, []
    for _ in range(count):
        at += rng.expovariate(1 / spacing)
        moments.append(at)
    return moments


def fire_searches(store, queries, run, moments: list[float], keep_going=lambda: True) -> dict:
    """Fire search i at moments[i] on a thread of its own, whether or not earlier ones have
    answered (so a search stuck behind a fold does not delay the next one's firing, which would
    hide the wait: each is timed from the moment it was due to its answer). Stops firing when
    `keep_going` says so; per search its latency, and whether the patient it came from was found."""
    results: list[tuple[float, bool, str]] = []

    def one(due: float, kind: str, query: str, pid: str) -> None:
        hits = run(store, query)
        elapsed = time.perf_counter() - due
        found = pid in {p.id for p in hits} or len(hits) == 20  # a full page may rank it lower
        results.append((elapsed, found, f"{query!r} ({kind})"))

    start = time.perf_counter()
    fired = []
    # Enough threads for every search that can wait behind one fold in (c); were they too few, a
    # search would still be timed from its due moment, so the figure would not flatter.
    with ThreadPoolExecutor(max_workers=128, thread_name_prefix="bench-search") as pool:
        for i, moment in enumerate(moments):
            due = start + moment
            time.sleep(max(0.0, due - time.perf_counter()))
            if not keep_going():
                break
            fired.append(pool.submit(one, due, *queries[i % len(queries)]))
    window = (start, time.perf_counter())
    for future in fired:
        future.result()  # a search that failed fails the benchmark
    return {"latencies": [r[0] for r in results], "found": sum(r[1] for r in results),
            "slowest": max(results)[2], "window": window}


def during_folds(store, queries, run, batches, count: int, moments: list[float], *, elsewhere: bool = False) -> dict:
    """`fire_searches` while a Folder ingests up to `count` of `batches` (firing stops early if
    they run out: a search with no fold beside it is not this measurement's)."""
    folder = Folder(store, batches, count, elsewhere=elsewhere)
    folder.start()
    folder.started_folding.wait()
    result = fire_searches(store, queries, run, moments, keep_going=lambda: not folder.finished.is_set())
    folder.stopping.set()  # the batch in hand is finished first: a sync is not cut off mid-batch
    folder.join()
    if folder.error is not None:
        raise folder.error
    result["folds"] = folder.folded_between(*result["window"])
    return result


def describe(label: str, result: dict, target: str = "") -> None:
    ms = [t * 1e3 for t in result["latencies"]]
    line = (f"  {label:<34} p50 {percentile(ms, 50):7.1f} ms   p95 {percentile(ms, 95):7.1f} ms   "
            f"max {max(ms):7.1f} ms   {len(ms):4d} searches")
    if "folds" in result:
        folds = result["folds"]
        line += f"   {len(folds):2d} batches folded (each {percentile(folds, 50):.2f} s p50)" if folds else \
            "   no batch folded"
    print(line + (f"   {target}" if target else ""))
    print(f"  {'':<34} slowest {result['slowest']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="10,000 patients, fewer searches and batches")
    parser.add_argument("--searches", type=int, default=400, help="searches fired in each measurement")
    parser.add_argument("--spacing", type=float, default=0.05,
                        help="mean seconds between searches fired (default 0.05: 20 a second)")
    parser.add_argument("--batches", type=int, default=24,
                        help="5,000-entry batches prepared for each of (b), (b'), (c) and (d); each folds until its searches are done")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    if args.quick:
        args.patients, args.searches, args.batches = 10_000, 200, 8

    rng = random.Random(14)
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        say(f"seeding {args.patients:,} demo patients into a SQLCipher store ...")
        started = time.perf_counter()
        store = open_store(Path(tmp) / "clinic.db")
        entries = journal_people(store, args.patients, SEED_CLINIC, label="clinic")
        seeded = time.perf_counter() - started
        say(f"preparing {4 * args.batches} batches of {BATCH:,} entries on another device ...")
        pool = peer_batches(Path(tmp) / "peer.db", 4 * args.batches)
        queries = real_queries(store, 150, rng)
        gc.collect()  # the generated people are garbage now: not the measurement's to collect

        say("measuring ...")
        moments = schedule(args.searches, args.spacing)
        checkpoint(store)
        on_reader(store, queries[0][1])  # one search first, so (a) does not count opening the readers' caches
        idle = fire_searches(store, queries, on_reader, moments)
        checkpoint(store)
        batches = iter(pool)  # each measurement continues the peer's chain where the last left it
        default_switch = sys.getswitchinterval()
        unfavoured = during_folds(store, queries, on_reader, batches, args.batches, moments)
        checkpoint(store)
        favour_quick_reads()  # what the clinic screen does at start (fieldkit.tui.app.run)
        readers = during_folds(store, queries, on_reader, batches, args.batches, moments)
        checkpoint(store)
        apart = during_folds(store, queries, on_reader, batches, args.batches, moments, elsewhere=True)
        checkpoint(store)
        writer = during_folds(store, queries, on_writer, batches, args.batches, moments)
        sys.setswitchinterval(default_switch)
        store.close()

    mix: dict[str, int] = {}
    for kind, query, _ in queries:
        key = f"{kind}, {script_of(query)}" if kind != "phone suffix" else kind
        mix[key] = mix.get(key, 0) + 1
    print(f"\nsearch while a sync folds batches  ({os.cpu_count()} cores, Python {sys.version.split()[0]})")
    print(f"  {load_note(load)}")
    print(f"  store: SQLCipher, {args.patients:,} demo patients, {entries:,} journal entries (seeded in {seeded:.0f} s); "
          f"batches of {BATCH:,} entries from another device, each one store.ingest transaction")
    print(f"  {len(queries)} queries from seeded patients, cycled: " + ", ".join(f"{n} {k}" for k, n in sorted(mix.items())))
    print(f"  (a) found the patient queried (or a full page of 20) for {idle['found']}/{len(idle['latencies'])} searches\n")
    describe("(a) idle, reader thread", idle)
    describe(f"(b) during folds, reader, {QUICK_SWITCH_SECONDS * 1e3:g} ms switch", readers, "(target p95 < 20 ms)")
    describe(f"(b') the same, Python's {default_switch * 1e3:g} ms switch", unfavoured)
    print(f"  {'':<34} (b) is the clinic screen's setting: it hands the interpreter's lock to a waiting thread "
          f"after {QUICK_SWITCH_SECONDS * 1e3:g} ms")
    describe("(d) folds in another process", apart, "(fieldkit sync serve beside the screen)")
    describe("(c) baseline: on the writer thread", writer, "(the old design; measured 561 ms before)")
    for label, result in (("(b)", readers), ("(b')", unfavoured), ("(c)", writer), ("(d)", apart)):
        if len(result["latencies"]) < args.searches:
            print(f"  note: {label} ran out of batches after {len(result['latencies'])} searches; "
                  "give --batches more")


if __name__ == "__main__":
    main()
