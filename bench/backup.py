"""A backup of a 100,000-patient clinic, and the clinic screen's searches while it runs (issue 19).

    python bench/backup.py               # 100,000 patients (about ten minutes, mostly seeding)
    python bench/backup.py --quick       # 10,000 patients

What: a real clinic (keystore, SQLCipher database) seeded with N demo patients as bench/concurrency.py
seeds them. `fieldkit backup` runs as the README says, from a second shell: its own process, on the
same file, writing to another folder (the stick). Meanwhile this process searches, as the clinic
screen does (store.read on a reader thread), 20 a second, each timed.

Figures: the backup's wall time beside a plain copy of the database file (`cp`, which is neither
consistent nor safe while the clinic writes: the floor a copy cannot beat), and the searches' median
and p95 during the backup beside the same searches with nothing else running. Target: search p95
during the backup under 20 ms (the figure issue 14 set for searches during a sync's fold).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from concurrency import journal_people, real_queries  # noqa: E402 - bench/ is not a package
from figures import line, p95  # noqa: E402

PASSPHRASE = "bench backup 2026"
PACE = 0.05  # seconds between searches


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def searches(store, queries: list, until: threading.Event | None = None, count: int | None = None) -> list[float]:
    """Searches 20 a second, as fast as a clerk types (each key a search): paced, not a busy loop,
    which would hold a core the backup's lower-priority thread then never gets."""
    from fieldkit.records.search import search

    times: list[float] = []
    due = time.perf_counter()
    for n in range(10**9):
        if (until is not None and until.is_set()) or (count is not None and n >= count):
            break
        due += PACE
        query = queries[n % len(queries)][1]
        started = time.perf_counter()
        store.read(lambda conn, q=query: search(conn, q))
        times.append((time.perf_counter() - started) * 1000)
        time.sleep(max(0.0, due - time.perf_counter()))
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="10,000 patients")
    args = parser.parse_args()
    patients = 10_000 if args.quick else args.patients

    from fieldkit.store.home import Home
    from fieldkit.store.session import create_clinic, unlock
    from fieldkit.sync.identity import new_device_key

    with tempfile.TemporaryDirectory(prefix="fieldkit-bench-backup-") as scratch:
        home, stick = Home(Path(scratch) / "clinic"), Path(scratch) / "stick"
        stick.mkdir()
        key, device = new_device_key()
        store, _user = create_clinic(home, supervisor="bench", passphrase=PASSPHRASE, device_id=device,
                                    device_key=key)
        say(f"seeding {patients:,} patients")
        journal_people(store, patients, 2026, label="clinic")
        store.close()
        store, _user = unlock(home, "bench", PASSPHRASE)
        store.read(lambda conn: conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall())
        queries = real_queries(store, 200, random.Random(7))
        searches(store, queries, count=200)  # warm the readers' caches, as a screen in use has them
        idle = searches(store, queries, count=200)

        started = time.perf_counter()
        shutil.copyfile(home.database, Path(scratch) / "plain-copy.db")
        copied = time.perf_counter() - started
        (Path(scratch) / "plain-copy.db").unlink()

        done = threading.Event()
        env = {**os.environ, "FIELDKIT_HOME": str(home.path), "FIELDKIT_PASSPHRASE": PASSPHRASE}
        result: dict = {}

        def back_up() -> None:
            process = subprocess.run([sys.executable, "-m", "fieldkit", "backup", str(stick), "--json"],
                                     capture_output=True, text=True, env=env, cwd=ROOT)
            result.update(json.loads(process.stdout) if process.returncode == 0 else {"error": process.stderr})
            done.set()

        runner = threading.Thread(target=back_up)
        wall = time.perf_counter()
        runner.start()
        during = searches(store, queries, until=done)
        runner.join()
        wall = time.perf_counter() - wall
        idle += searches(store, queries, count=200)  # and after: the baseline spans the same cache states
        store.close()
        if "error" in result:
            raise SystemExit(result["error"])
        size = result["bytes"] / 1e6
        print(f"{patients:,} patients, {result['entries']:,} entries; database {home.database.stat().st_size / 1e6:.0f} MB,"
              f" backup {size:.0f} MB")
        print(f"backup     {result['seconds']:.1f} s inside the command, {wall:.1f} s for the whole command "
              f"(unlock and start included)   baseline: cp of the file {copied:.1f} s")
        line("search", during, idle, "p95 < 20 ms during the backup")
        print(f"           {len(during)} searches during the backup, {len(idle)} idle (before and after it; "
              f"idle p95 {p95(idle):.1f} ms)")


if __name__ == "__main__":
    main()
