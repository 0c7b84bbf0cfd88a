"""The hub's reports on PostgreSQL, each figure beside a baseline measured in the same run.

    python bench/hub_reports.py                      # 100,000 enrolments, 10,000 entries refreshed
    python bench/hub_reports.py --rows 20000 --entries 2000 --postgres postgresql://USER@HOST/DB

PostgreSQL defaults to postgres@127.0.0.1:5432/test, in a schema of its own, dropped at the end.

1. Reports. R enrolments (and their patients) COPYed into the reporting tables: 4 programmes,
   home triage's outcomes, 24 months, 60 laptops, destinations for the oncology registry. Timed,
   median of 5: a line list's count (`reports.line_list(..., limit=0)`: the count and the stale-
   laptop check), counts by outcome and counts over time by month (`reports.counts`, `over_time`),
   all three for home triage (about half the rows) and all three for every row. Target: the three
   together < 2 s. Baseline: a bare `SELECT count(*)` of the table.
2. Refresh. N new entries (patients and their enrolments, one laptop) in the hub's storage, folded
   by a new replica and copied into the reporting tables (`replica.refresh`). Baseline: the same
   entries received by a laptop's store (`Store.ingest`: the fold alone, no copy).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
OUTCOMES = ["completed"] * 17 + ["escalated"] * 2 + ["died", "lost", "withdrew"]
PROGRAMMES = ["home-triage", "home-triage", "oncology-abroad", "surgical-mission"]
DESTINATIONS = ["Tunisia"] * 8 + ["Egypt"] * 2 + ["Turkey", "Germany"]


def timed(job, rounds: int = 5) -> float:
    out = []
    for _ in range(rounds):
        started = time.perf_counter()
        job()
        out.append((time.perf_counter() - started) * 1e3)
    return statistics.median(out)


def fill(storage, rows: int) -> None:
    """R enrolments and their patients, straight into the reporting tables with COPY."""
    from fieldkit.hub.reporting import COLUMNS
    from fieldkit.store.journal import canonical

    rng = random.Random(7)
    start = date.today() - timedelta(days=730)
    devices = [uuid.UUID(int=rng.getrandbits(128)).hex for _ in range(60)]
    with storage._transaction() as cur:
        with cur.raw.copy(f"COPY report_patients ({', '.join(COLUMNS['report_patients'])}) FROM STDIN") as copy:
            for n in range(rows):
                copy.write_row((f"P{n:08d}", rng.choice(["female", "male"]), 1940 + n % 70, "Soc Trang",
                                (start + timedelta(days=n % 730)).isoformat(), "active", None, "not vaccinated", "no",
                                devices[n % 60], f"{n:016x}.{devices[n % 60]}", 1))
        with cur.raw.copy(f"COPY report_enrolments ({', '.join(COLUMNS['report_enrolments'])}) FROM STDIN") as copy:
            for n in range(rows):
                programme = PROGRAMMES[n % 4]
                enrolled = start + timedelta(days=rng.randrange(730))
                closed = programme == "home-triage" and enrolled < date.today() - timedelta(days=14)
                destination = rng.choice(DESTINATIONS) if programme == "oncology-abroad" else None
                attributes = {"destination_country": destination, "branch_office": "Tripoli"} if destination else {}
                copy.write_row((f"E{n:08d}", f"P{n:08d}", programme, 1, "completed" if closed else "active",
                                rng.choice(OUTCOMES) if closed else None, enrolled.isoformat(),
                                (enrolled + timedelta(days=14)).isoformat() if closed else None, f"team {n % 12}",
                                canonical(attributes), destination, "Tripoli" if destination else None, 0,
                                devices[n % 60], f"{n:016x}.{devices[n % 60]}", 2))
        cur.execute("ANALYZE report_patients")
        cur.execute("ANALYZE report_enrolments")


def reports_figures(url: str, rows: int) -> None:
    from fieldkit.hub import reports
    from fieldkit.hub.storage import HubStorage

    storage = HubStorage.open(url)
    try:
        started = time.perf_counter()
        fill(storage, rows)
        print(f"reports: {rows:,} enrolments and their patients COPYed in {time.perf_counter() - started:.1f} s")
        bare = timed(lambda: storage.query("SELECT count(*) FROM report_enrolments"))
        for label, filters in (("home triage", {"programme": "home-triage"}), ("every row", {})):
            total = reports.line_list(storage, "enrolments", filters, limit=0).total
            listed = timed(lambda f=filters: reports.line_list(storage, "enrolments", f, limit=0))
            by_outcome = timed(lambda f=filters: reports.counts(storage, "enrolments", "outcome", f))
            by_month = timed(lambda f=filters: reports.over_time(storage, "enrolments", f))
            together = listed + by_outcome + by_month
            print(f"  {label:<12} {total:>7,} rows: line-list count {listed:6.0f} ms, by outcome {by_outcome:6.0f} ms, "
                  f"by month {by_month:6.0f} ms = {together:6.0f} ms   baseline count(*) {bare:5.1f} ms   "
                  f"target < 2000 ms {'ok' if together < 2000 else 'MISSED'}")
    finally:
        storage.close()


def refresh_figures(url: str, entries: int, folder: Path) -> None:
    from fieldkit.hub.replica import Replica, refresh
    from fieldkit.hub.storage import HubStorage
    from fieldkit.records import enrolments, services
    from fieldkit.records.models import Patient
    from fieldkit.store.db import Store
    from fieldkit.store.keystore import User

    user = User("bench", "bench", "supervisor")
    laptop = Store(folder / "laptop.db", os.urandom(32), device_id="b" * 32)

    def work(tx):
        for n in range(entries // 2):
            change = services.registration(Patient(given_name=f"Bệnh nhân {n}", sex="female"))
            tx.append([change], user=user.id)
            enrolments.enrol(tx, user, {"patient_id": change.entity_id, "programme": "home-triage",
                                        "team": f"team {n % 12}"})
    laptop.write(work)
    laptop.sign_checkpoints(lambda message: b"s" * 64, every=500)
    storage = HubStorage.open(url)
    try:
        stored = 0
        while (batch := laptop.outgoing(storage.version_vector(), 500)).entries:  # as a laptop's uploads
            stored += storage.ingest(batch.entries, batch.checkpoints, batch.certificates).applied
        with Replica(folder / "replica.db", os.urandom(32)) as replica:
            started = time.perf_counter()
            folded = refresh(storage, replica)
            seconds = time.perf_counter() - started
        copied = storage.query("SELECT count(*) FROM report_enrolments")[0][0]
        fold_only = Store(folder / "fold.db", os.urandom(32), device_id="f" * 32)
        started = time.perf_counter()
        fold_only.ingest(laptop.entries_after({}, 10**9))
        baseline = time.perf_counter() - started
        fold_only.close()
        print(f"refresh: {folded:,} new entries ({stored:,} stored) folded and {copied:,} enrolments copied in "
              f"{seconds:.2f} s ({folded / seconds:,.0f} entries/s)   baseline fold alone {baseline:.2f} s")
    finally:
        storage.close()
        laptop.close()


def main() -> None:
    import psycopg

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--postgres", default=POSTGRES)
    args = parser.parse_args()
    from fieldkit.store import keystore

    keystore.KDF = {"memory_kib": 1024, "iterations": 1, "lanes": 1}
    run = uuid.uuid4().hex[:8]
    schemas = [f"hub_reports_{run}_{name}" for name in ("reports", "refresh")]
    with psycopg.connect(args.postgres, autocommit=True) as conn:
        for schema in schemas:
            conn.execute(f"CREATE SCHEMA {schema}")
    try:
        urls = [f"{args.postgres}?options=-csearch_path%3D{schema}" for schema in schemas]
        reports_figures(urls[0], args.rows)
        with tempfile.TemporaryDirectory() as folder:
            refresh_figures(urls[1], args.entries, Path(folder))
    finally:
        with psycopg.connect(args.postgres, autocommit=True) as conn:
            for schema in schemas:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main()
