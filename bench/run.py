"""fieldkit benchmarks: each figure printed beside a baseline measured in the same run.

    python bench/run.py                    # 10k and 100k patients (a few minutes)
    python bench/run.py --sizes 10000      # quick

Per size (each in a fresh subprocess, so peak memory is that size's own):
  append+fold   journal append with fold, audit and search index, batched, in SQLCipher and in
                plain SQLite (the same sqlcipher3 library without a key): the ratio is the
                encryption cost; plus raw batched inserts of the same entries (no fold) for scale
  save          one interactive save (register; record an encounter; edit a name), p50/p95 ms
  search        p50/p95 ms over a fixed query mix in Arabic, Persian, Vietnamese and Latin script
  rebuild       full re-fold rate, entries/s
  size          database bytes per patient; peak RSS
Once: unlock (Argon2id key derivation + unwrap) and `fieldkit --help` start time beside bare Python.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUERIES = [
    "محمد", "فاطمه", "أحمد علي", "عبدالله", "الحسن", "زهرا", "علی‌رضا", "کریمی", "مریم",
    "nguyen", "nguyễn thị", "huong", "tran van", "phạm", "marie", "dupont", "john smith",
    "mohamed", "fatima", "ahmed", "hassan", "reza", "moh", "ng", "0912", "944123",
]
BATCH = 2000


def load_note(at_start: float) -> str:
    """The machine's 1-minute load average at the start and the end: above the core count, other
    work competed for the cores and the figures are slower than on an idle laptop."""
    return f"load average {at_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end ({os.cpu_count()} cores)"


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def build_changes(count: int):
    """Every change the demo clinic of `count` patients journals, in registration order."""
    from fieldkit.records.demo import people, person_changes

    return [change for person in people(count, seed=7, today=date(2026, 11, 22)) for change in person_changes(person)]


def timed_append(store, changes) -> float:
    start = time.perf_counter()
    for i in range(0, len(changes), BATCH):
        store.append(changes[i:i + BATCH], user="bench")
    return time.perf_counter() - start


def raw_insert_rate(path: Path, key: bytes | None, entries) -> float:
    """Batched inserts of the very same journal rows with no fold: the floor the fold sits on."""
    from fieldkit.store.connection import connect

    conn = connect(path, key)
    rows = [e.row() for e in entries]
    start = time.perf_counter()
    for i in range(0, len(rows), BATCH):
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO journal VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows[i:i + BATCH])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return len(rows) / elapsed


def database_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def one_size(count: int) -> dict:
    from fieldkit.records.search import search
    from fieldkit.records.services import Clinic
    from fieldkit.store.connection import connect
    from fieldkit.store.db import Store
    from fieldkit.store.keystore import User

    started = time.perf_counter()
    changes = build_changes(count)
    result = {"patients": count, "entries": len(changes), "generate_s": time.perf_counter() - started}
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        for label, key in (("sqlcipher", os.urandom(32)), ("plain", None)):
            path = Path(tmp) / f"{label}.db"
            store = Store(path, key, device_id="b" * 32)
            elapsed = timed_append(store, changes)
            result[f"{label}_append_fold_per_s"] = len(changes) / elapsed
            entries = store.entries_after({}, limit=10**9)
            if label == "plain":
                store.close()
                continue
            clinic = Clinic(store, User("bench", "bench", "supervisor"))
            saves = []
            for i in range(50):
                t = time.perf_counter()
                pid = clinic.register({"given_name": f"Sara{i}", "family_name": "Benchmark", "sex": "female"}).patient_id
                saves.append(time.perf_counter() - t)
                t = time.perf_counter()
                clinic.record_encounter({"patient_id": pid, "vitals": {"pulse": 80, "resp_rate": 16}})
                saves.append(time.perf_counter() - t)
                t = time.perf_counter()  # a name edit re-indexes the patient for search
                clinic.edit(pid, {"given_name": f"Sarah{i}"})
                saves.append(time.perf_counter() - t)
            result["save_p50_ms"], result["save_p95_ms"] = percentile(saves, 50) * 1e3, percentile(saves, 95) * 1e3
            timings, hits = [], []
            for _ in range(5):
                for query in QUERIES:
                    t = time.perf_counter()
                    found = store.read(lambda conn, query=query: search(conn, query, limit=20))
                    timings.append(time.perf_counter() - t)
                    hits.append(len(found))
            result["search_p50_ms"], result["search_p95_ms"] = percentile(timings, 50) * 1e3, percentile(timings, 95) * 1e3
            result["search_queries_with_hits"] = f"{sum(1 for h in hits[:len(QUERIES)] if h)}/{len(QUERIES)}"
            t = time.perf_counter()
            folded = store.rebuild().entries
            result["rebuild_per_s"] = folded / (time.perf_counter() - t)
            store.close()
            # On a connection of its own: store.write's BEGIN IMMEDIATE makes SQLite refuse a checkpoint.
            conn = connect(path, key)
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            conn.close()
            result["bytes_per_patient"] = database_bytes(path) / count
            raw_key = os.urandom(32)
            result["sqlcipher_raw_insert_per_s"] = raw_insert_rate(Path(tmp) / "raw-cipher.db", raw_key, entries)
            result["plain_raw_insert_per_s"] = raw_insert_rate(Path(tmp) / "raw-plain.db", None, entries)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def unlock_and_start() -> dict:
    from fieldkit.store.keystore import Keystore

    with tempfile.TemporaryDirectory() as tmp:
        keystore = Keystore(Path(tmp) / "keystore.db")
        key = keystore.create()
        keystore.add_user("bench", "clinician", "a long passphrase", key)
        unlocks = []
        for _ in range(3):
            t = time.perf_counter()
            keystore.unlock("bench", "a long passphrase")
            unlocks.append(time.perf_counter() - t)

    def best_of(command):
        runs = []
        for _ in range(7):
            t = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            runs.append(time.perf_counter() - t)
        return statistics.median(runs) * 1e3

    fieldkit = str(Path(sys.executable).with_name("fieldkit"))
    return {"unlock_s": statistics.median(unlocks),
            "cli_help_ms": best_of([fieldkit, "--help"]),
            "bare_python_ms": best_of([sys.executable, "-c", "pass"])}


def report(sizes: list[dict], once: dict) -> None:
    print(f"\nfieldkit benchmarks  ({os.cpu_count()} cores, Python {sys.version.split()[0]})\n")
    for r in sizes:
        cost = r["plain_append_fold_per_s"] / r["sqlcipher_append_fold_per_s"]
        fold_cost = r["sqlcipher_raw_insert_per_s"] / r["sqlcipher_append_fold_per_s"]
        print(f"== {r['patients']:,} patients, {r['entries']:,} journal entries "
              f"(generated in {r['generate_s']:.1f} s)")
        print(f"  append+fold  SQLCipher {r['sqlcipher_append_fold_per_s']:>9,.0f} entries/s   "
              f"plain SQLite {r['plain_append_fold_per_s']:>9,.0f} entries/s   SQLCipher costs {cost:.2f}x  (target <= 1.3x)")
        print(f"  raw insert   SQLCipher {r['sqlcipher_raw_insert_per_s']:>9,.0f} rows/s      "
              f"plain SQLite {r['plain_raw_insert_per_s']:>9,.0f} rows/s      fold costs {fold_cost:.1f}x the write (target <= 7x)")
        print(f"  save         p50 {r['save_p50_ms']:.1f} ms   p95 {r['save_p95_ms']:.1f} ms   (target < 20 ms)")
        print(f"  search       p50 {r['search_p50_ms']:.1f} ms   p95 {r['search_p95_ms']:.1f} ms   "
              f"(target p95 < 20 ms; {r['search_queries_with_hits']} queries found someone)")
        print(f"  rebuild      {r['rebuild_per_s']:,.0f} entries/s")
        print(f"  size         {r['bytes_per_patient']:,.0f} bytes/patient   peak RSS {r['peak_rss_mb']:,.0f} MB")
    print(f"\n  unlock       {once['unlock_s'] * 1e3:.0f} ms (Argon2id 256 MiB x3, target < 1 s)")
    print(f"  CLI start    fieldkit --help {once['cli_help_ms']:.0f} ms   bare python {once['bare_python_ms']:.0f} ms   (target < 150 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # child process: one size, JSON out
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_size(args.one)))
        return
    sizes = []
    for count in args.sizes:
        out = subprocess.run([sys.executable, __file__, "--one", str(count)], check=True,
                             capture_output=True, text=True).stdout
        sizes.append(json.loads(out.strip().splitlines()[-1]))
    once = unlock_and_start()
    if args.json:
        print(json.dumps({"sizes": sizes, **once}, indent=2))
    else:
        report(sizes, once)


if __name__ == "__main__":
    main()
