"""Who is due a hepatitis B dose or test among a directorate's staff, beside a baseline measured in
the same run, on a real (SQLCipher) store.

    python bench/vaccines.py

  due list   `vaccine_lists.due_list(conn, "hepb-staff")` over 4,000 staff holding 2 or 3 doses each
             (10,400 doses) and 1,000 anti-HBs results (a third low: a second series due): every
             person's doses and results derived in Python; median and p95 of 20. Baseline: the bare
             query that reads those doses (the floor any list pays). Target < 300 ms.
  counts     `vaccine_lists.round_counts` over the same 4,000; median of 20. Same baseline.
  give       `immunizations.give` of one dose on the same store (validate, place in the series,
             append, fold, commit); median and p95 of 100. Baseline: a bare journal append of the
             same fields. Target < 30 ms.
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

STAFF = 4000


def timed(job, rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        started = time.perf_counter()
        job()
        out.append((time.perf_counter() - started) * 1e3)
    return sorted(out)



def main() -> None:
    from fieldkit.records import immunizations, vaccine_lists
    from fieldkit.records.ids import new_id
    from fieldkit.records.models import Patient
    from fieldkit.records.services import registration
    from fieldkit.store.db import Change, Store
    from fieldkit.store.keystore import User

    user = User("bench", "bench", "clinician")
    today = date.today()
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "clinic.db", os.urandom(32), device_id="b" * 32)
        with store:
            def staff(tx) -> list[str]:
                ids = []
                for n in range(STAFF):
                    change = registration(Patient(given_name=f"موظف {n}", birth_date=date(1970 + n % 30, 1 + n % 12, 1)))
                    first = today - timedelta(days=400 - n % 200)
                    days = (0, 30 + n % 20, 180 + n % 40)[: 2 + (n % 2 == 0 or n % 5 == 0)]
                    changes = [change, *(Change("immunization", new_id(), "create", {"fields": {
                        "patient_id": change.entity_id, "vaccine": "hepb-adult", "series": 1, "dose_number": i + 1,
                        "status": "given", "primary_source": True, "occurred": (first + timedelta(days=d)).isoformat(),
                        "lot": "HB-2291"}}) for i, d in enumerate(days))]
                    if len(days) == 3 and n % 4 == 0:
                        changes.append(Change("lab_result", new_id(), "create", {"fields": {
                            "patient_id": change.entity_id, "test": "anti-hbs", "loinc": "16935-9", "unit": "m[IU]/mL",
                            "value": "6" if n % 3 == 0 else "120", "status": "final",
                            "collected": (first + timedelta(days=days[2] + 42)).isoformat()}}))
                    tx.append(changes, user=user.id)
                    ids.append(change.entity_id)
                return ids

            started = time.perf_counter()
            ids = store.write(staff)
            doses, results = store.read(lambda conn: (conn.execute("SELECT count(*) FROM immunizations").fetchone()[0],
                                                      conn.execute("SELECT count(*) FROM lab_results").fetchone()[0]))
            print(f"staff: {STAFF}, {doses} doses, {results} anti-HBs results, built in "
                  f"{time.perf_counter() - started:.0f} s")

            def bare(conn):
                return conn.execute("SELECT id, patient_id, vaccine, occurred, status, primary_source, dose_number "
                                    "FROM immunizations WHERE vaccine IN ('hepb-adult')").fetchall()

            baseline = timed(lambda: store.read(bare), 20)
            due = timed(lambda: store.read(lambda conn: vaccine_lists.due_list(conn, "hepb-staff", today=today)), 20)
            rows = store.read(lambda conn: vaccine_lists.due_list(conn, "hepb-staff", today=today))
            print(f"due list: {len(rows)} rows ({sum(r.state == 'overdue' for r in rows)} overdue)")
            line("due list", due, baseline, "< 300 ms")
            counts = timed(lambda: store.read(lambda conn: vaccine_lists.round_counts(conn, ids, today=today)), 20)
            line("counts", counts, baseline, "< 300 ms")
            print("counts:", store.read(lambda conn: vaccine_lists.round_counts(conn, ids, today=today)))

            targets = iter(ids[1::2])  # people holding 2 doses: the third is due or not yet

            def one_dose() -> None:
                store.write(lambda tx: immunizations.give(tx, user, {"patient_id": next(targets), "vaccine": "hepb-adult",
                                                                      "lot": "HB-2291", "early_reason": "bench"}))

            def bare_append() -> None:
                store.write(lambda tx: tx.append([Change("immunization", new_id(), "create", {"fields": {
                    "patient_id": ids[0], "vaccine": "hepb-adult", "series": 1, "dose_number": 3, "status": "given",
                    "primary_source": True, "occurred": today.isoformat(), "lot": "HB-2291"}})], user=user.id))

            append = timed(bare_append, 100)
            give = timed(one_dose, 100)
            line("give", give, append, "< 30 ms")


if __name__ == "__main__":
    main()
