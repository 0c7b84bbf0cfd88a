"""A cohort's worklist, a check-in's save and a registry's counts, each beside a baseline measured
in the same run, on a real (SQLCipher) store.

    python bench/programmes.py

  worklist   `programme_lists.worklist` over 2,000 active home-triage enrolments with 14 days of
             check-ins each (28,000 check-ins): every patient's standing computed from the days
             that have a check-in; median and p95 of 20. Baseline: the one query that reads those
             check-ins (the floor any worklist pays). Target < 100 ms.
  check-in   `enrolments.check_in` (validate, alert bands, append, fold, commit) on the same store;
             median and p95 of 200. Baseline: a bare journal append of the same payload. Target < 20 ms.
  registry   `registry.line_list` + `counts` of 5,620 oncology-abroad files grouped by destination;
             median of 20. Baseline: SQL's own GROUP BY on the attribute. Target < 200 ms.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from figures import line  # bench/figures.py: the scripts run from this folder

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COHORT = 2000
DAYS = 14
LIBYA = {"Tunisia": 4416, "Egypt": 970, "Turkey": 186, "Germany": 48}


def timed(job, rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        started = time.perf_counter()
        job()
        out.append((time.perf_counter() - started) * 1e3)
    return sorted(out)



def main() -> None:
    from fieldkit.records import enrolments, programme_lists, registry
    from fieldkit.records.models import Patient
    from fieldkit.records.services import registration
    from fieldkit.store.db import Change, Store
    from fieldkit.store.keystore import User

    user = User("bench", "bench", "supervisor")
    today = date.today()
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "clinic.db", os.urandom(32), device_id="b" * 32)
        with store:
            def cohort(tx):
                ids = []
                for n in range(COHORT):
                    change = registration(Patient(given_name=f"Bệnh nhân {n}", phone=f"+8490{n:07d}"))
                    tx.append([change], user=user.id)
                    started = today - timedelta(days=DAYS if n % 4 else DAYS - 3)
                    eid = enrolments.enrol(tx, user, {"patient_id": change.entity_id, "programme": "home-triage",
                                                      "enrolled_on": started.isoformat()})
                    for offset in range(DAYS):
                        day = started + timedelta(days=offset)
                        if day < today and (n + offset) % 9:
                            enrolments.check_in(tx, user, {"enrolment_id": eid, "day": day.isoformat(),
                                                           "spo2": 95 + n % 4, "resp_rate": 18, "pulse": 80})
                    ids.append(eid)
                return ids
            started = time.perf_counter()
            ids = store.write(cohort)
            checkins = store.read(lambda conn: conn.execute("SELECT count(*) FROM checkins").fetchone()[0])
            print(f"cohort: {COHORT} enrolments, {checkins} check-ins, built in {time.perf_counter() - started:.0f} s")
            worklist = timed(lambda: store.read(lambda conn: programme_lists.worklist(conn, today)), 20)
            floor = timed(lambda: store.read(lambda conn: conn.execute(
                "SELECT c.enrolment_id, c.day, c.ver, c.alert FROM checkins c JOIN enrolments e ON e.id = c.enrolment_id "
                "WHERE e.status IN ('active', 'paused')").fetchall()), 20)
            due = store.read(lambda conn: len(programme_lists.worklist(conn, today)))
            line("worklist", worklist, floor, f"< 100 ms ({due} due today)")

            pending = [eid for eid in ids if not store.read(lambda conn, eid=eid: conn.execute(
                "SELECT 1 FROM checkins WHERE enrolment_id = ? AND day = ?", (eid, today.isoformat())).fetchone())]
            saves = iter(pending)
            check_in = timed(lambda: store.write(lambda tx: enrolments.check_in(tx, user, {
                "enrolment_id": next(saves), "day": today.isoformat(), "spo2": 96, "resp_rate": 18, "pulse": 84,
                "temperature_c": 36.9})), 200)
            bare = timed(lambda: store.append([Change("bench", "x", "create", {"spo2": 96, "resp_rate": 18, "pulse": 84,
                                                                                 "temperature_c": 36.9})],
                                              user=user.id), 200)
            line("check-in", check_in, bare, "< 20 ms")

            def files(tx):
                n = 0
                for country, count in LIBYA.items():
                    for _ in range(count):
                        change = registration(Patient(given_name=f"مريض {n}"))
                        tx.append([change], user=user.id)
                        enrolments.enrol(tx, user, {"patient_id": change.entity_id, "programme": "oncology-abroad",
                                                    "attributes": {"destination_country": country,
                                                                   "cancer_site": "breast", "branch_office": "Tripoli"}})
                        n += 1
            store.write(files)
            grouped = timed(lambda: registry.counts(store.read(lambda conn: registry.line_list(conn, "oncology-abroad")),
                                                    "destination_country", unit="patients"), 20)
            by_sql = timed(lambda: store.read(lambda conn: conn.execute(
                "SELECT json_extract(attributes, '$.destination_country'), count(DISTINCT patient_id) FROM enrolments "
                "WHERE programme = 'oncology-abroad' GROUP BY 1").fetchall()), 20)
            line("registry", grouped, by_sql, "< 200 ms (5,620 files by destination)")


if __name__ == "__main__":
    main()
