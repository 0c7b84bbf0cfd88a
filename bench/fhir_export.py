"""The FHIR export of a clinic of 10,000 patients, each with one encounter (vital signs, a
diagnosis, a prescription), on a real (SQLCipher) store, validated and not, beside a baseline
measured in the same run.

    python bench/fhir_export.py [PATIENTS]

  validated    `fhir.stream` of a collection, every resource checked by its R4B model, the binding
               table and the bundle's rules, written to a file. Target >= 2,000 resources/s.
  unvalidated  the same with validate=False (fieldkit's own checks still run).
  baseline     the rows the export reads (patients, encounters with their journal entries) read
               and written out as JSON as they are: the floor any export pays.
  since        after 1% of the patients are edited, the export since the vector read before the
               edits (validated): what a hub's nightly export costs; and since the vector read
               after them (nothing new): the cost of finding nothing. Beside the whole export above.
  ips          one patient's summary (`ips.summary`, validated), median of 50 patients.
Peak memory (RSS) is printed after each, to show the stream holds no whole bundle.
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PATIENTS = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
BATCH = 1_000  # patients appended per transaction while building


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    import orjson

    from fieldkit.export import fhir, ips
    from fieldkit.records.models import Encounter, Patient
    from fieldkit.records.services import encounter_changes, registration
    from fieldkit.store.db import Change, Store
    from fieldkit.store.keystore import User

    user = User("bench", "bench", "clinician")
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "clinic.db", os.urandom(32), device_id="b" * 32)
        with store:
            started = time.perf_counter()
            for first in range(0, PATIENTS, BATCH):
                def batch(tx, first=first):
                    for n in range(first, min(first + BATCH, PATIENTS)):
                        patient = registration(Patient(given_name=f"Bệnh nhân {n}", family_name="Nguyễn",
                                                       sex="female" if n % 2 else "male", birth_date=f"19{50 + n % 50}-01-01",
                                                       phone=f"+8490{n:07d}"))
                        _, changes = encounter_changes(Encounter.model_validate({
                            "patient_id": patient.entity_id, "kind": "teletriage" if n % 3 else "visit",
                            "vitals": {"temperature_c": 36.5 + n % 30 / 10, "pulse": 70 + n % 50, "resp_rate": 14 + n % 12,
                                       "spo2": 90 + n % 10, "systolic_bp": 100 + n % 60, "diastolic_bp": 60 + n % 30,
                                       "avpu": "A"},
                            "diagnoses": [{"code": "J18.9", "text": "pneumonia"}],
                            "prescriptions": [{"drug": "amoxicillin", "dose": "500 mg", "route": "oral",
                                               "frequency": "tds", "duration_days": 5}]}))
                        tx.append([patient, *changes], user=user.id)
                store.write(batch)
            print(f"clinic: {PATIENTS} patients with an encounter each, built in {time.perf_counter() - started:.0f} s "
                  f"(peak RSS so far {rss_mb():.0f} MB)")

            target = Path(folder) / "export.json"

            def run(validate: bool, since: dict[str, int] | None = None) -> tuple[float, int, int]:
                counts: Counter[str] = Counter()

                def job(conn):
                    started = time.perf_counter()
                    with target.open("wb") as out:
                        for chunk in fhir.stream(conn, validate=validate, counts=counts, since=since):
                            out.write(chunk)
                    return time.perf_counter() - started
                seconds = store.read(job)
                return seconds, sum(counts.values()), target.stat().st_size

            def baseline(conn) -> tuple[float, int]:
                started = time.perf_counter()
                rows = 0
                with target.open("wb") as out:
                    for sql in ("SELECT * FROM patients ORDER BY id",
                                "SELECT e.*, j.data FROM encounters e JOIN journal j ON j.origin = e.origin "
                                "AND j.seq = e.seq ORDER BY e.id"):
                        for row in conn.execute(sql):
                            out.write(orjson.dumps(list(row)))
                            rows += 1
                return time.perf_counter() - started, rows

            floor, rows = store.read(baseline)
            print(f"baseline     {rows:>7} rows       {floor:6.2f} s  {rows / floor:>9,.0f} rows/s   peak RSS {rss_mb():.0f} MB")
            for validate, name in ((True, "validated"), (False, "unvalidated")):
                seconds, resources, size = run(validate)
                print(f"{name:<12} {resources:>7} resources  {seconds:6.2f} s  {resources / seconds:>9,.0f} resources/s  "
                      f"{size / 1e6:6.1f} MB written  peak RSS {rss_mb():.0f} MB"
                      + ("   target >= 2,000/s" if validate else ""))

            before = store.read(fhir.next_since)
            ids = store.read(lambda conn: [row[0] for row in conn.execute("SELECT id FROM patients ORDER BY id")])
            edited = ids[::100]
            store.write(lambda tx: tx.append([Change("patient", pid, "update", {"fields": {"locality": "Cần Thơ"}})
                                              for pid in edited], user=user.id))
            for name, since in (("since 1%", before), ("since 0%", store.read(fhir.next_since))):
                seconds, resources, _size = run(True, since)
                print(f"{name:<12} {resources:>7} resources  {seconds * 1e3:6.0f} ms ({len(edited)} patients edited)")

            def summary(conn, pid):
                return ips.summary(conn, pid, device_id=store.device_id)
            times = []
            for pid in ids[:: max(1, len(ids) // 50)][:50]:
                started = time.perf_counter()
                store.read(lambda conn, pid=pid: summary(conn, pid))
                times.append((time.perf_counter() - started) * 1e3)
            times.sort()
            print(f"ips          median {times[len(times) // 2]:.1f} ms, p95 {times[int(len(times) * 0.95)]:.1f} ms "
                  f"of {len(times)} patients (one encounter each)")


if __name__ == "__main__":
    main()
