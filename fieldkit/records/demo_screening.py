"""The demo clinic's staff health work, so the lab and vaccination screens show something real on
first start: the Homs directorate's staff hepatitis screening round, its results (two HBsAg
positive, one anti-HCV positive), and staff hepatitis B vaccination in every state — immune,
a non-responder due a second series, a series under way, a dose overdue, a dose given early
with its reason, none yet, one given elsewhere.

Staff are demo patients of working age with a Syrian phone, given a staff number the way a
clerk would add one. `lab_file` writes the next round's file as the lab sends it, for trying the
import: most rows match, one staff number is unknown (quarantined), one unit is not the test's.
"""

from __future__ import annotations

import csv
import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from fieldkit.records import immunizations, labs, queries, screening, services
from fieldkit.store.db import Store, Transaction
from fieldkit.store.keystore import User

STAFF = 48
LAB = "Homs Public Health Laboratory"
HBSAG_POSITIVE = (7, 29)
HCV_POSITIVE = (15,)
NON_RESPONDERS = (3, 11)


def staff_number(n: int) -> str:
    return f"HMS-{1000 + n:05d}"


def _staff(tx: Transaction) -> list[tuple[str, str]]:
    """(patient id, birth date) of the demo's staff, adults of working age."""
    return [(row[0], row[1]) for row in tx.execute(
        "SELECT id, birth_date FROM patients WHERE phone LIKE '+963%' AND merged_into IS NULL AND voided IS NOT 1 "
        "AND birth_date BETWEEN date('now', '-60 years') AND date('now', '-22 years') ORDER BY id DESC LIMIT ?",
        (STAFF,))]  # from the end: the demo's referrals and mission take Syrian patients from the start


def _dose(tx: Transaction, user: User, pid: str, on: date, **extra: Any) -> None:
    immunizations.give(tx, user, {"patient_id": pid, "vaccine": "hepb-adult", "occurred": on.isoformat(),
                                  "lot": "HB2026-114", "site": "left arm", "route": "intramuscular", **extra})


def _vaccinations(tx: Transaction, user: User, n: int, pid: str, today: date) -> None:
    """Staff member n's hepatitis B doses, by the state the demo shows for them."""
    days = lambda ago: today - timedelta(days=ago)  # noqa: E731 - a local shorthand for "so many days ago"
    if n < 20:  # a completed series; anti-HBs six weeks after dose 3
        for ago in (250, 219, 70):
            _dose(tx, user, pid, days(ago))
        value = "6" if n in NON_RESPONDERS else str(40 + n * 37)
        labs.record(tx, user, {"patient_id": pid, "test": "anti-hbs", "value": value, "unit": "m[IU]/mL",
                               "collected": days(28).isoformat(), "lab": LAB})
    elif n < 28:  # two doses: the third is not due yet
        for ago in (60, 28):
            _dose(tx, user, pid, days(ago))
    elif n < 36:  # one dose long ago: the second is overdue
        _dose(tx, user, pid, days(75))
    elif n == 36:  # the second dose three weeks after the first, given early on purpose
        _dose(tx, user, pid, days(40))
        _dose(tx, user, pid, days(19), early_reason="leaving for a posting without a clinic")
    elif n == 37:  # given elsewhere, from the staff member's card
        immunizations.historical(tx, user, {"patient_id": pid, "vaccine": "hepb-adult", "occurred": "2019-05",
                                            "dose_number": 1})


def _screened(tx: Transaction, user: User, round_id: str, n: int, pid: str, today: date) -> None:
    collected = (today - timedelta(days=30 - n % 5)).isoformat()
    sample = f"S26-{4000 + n:05d}"
    for test, value in (("hbsag", "positive" if n in HBSAG_POSITIVE else "negative"),
                        ("anti-hcv", "positive" if n in HCV_POSITIVE else "negative")):
        labs.record(tx, user, {"patient_id": pid, "test": test, "value": value, "collected": collected,
                               "issued": (today - timedelta(days=25)).isoformat(), "sample_id": sample,
                               "round_id": round_id, "lab": LAB})


def seed_screening(store: Store, user: User, *, seed: int = 2026, today: date | None = None) -> None:
    """Add the staff screening round and hepatitis B vaccinations to a seeded demo clinic."""
    today = today or date.today()
    rng = random.Random(f"screening {seed}")

    def job(tx: Transaction) -> None:
        staff = _staff(tx)
        round_id = screening.create_round(tx, user, {
            "name": "Staff hepatitis screening, round 1", "programme": "staff-health",
            "starts": (today - timedelta(days=31)).isoformat(), "ends": (today - timedelta(days=24)).isoformat(),
            "tests": ["hbsag", "anti-hcv"], "population": "Homs directorate health staff"})
        for n, (pid, _born) in enumerate(staff):
            services.edit(tx, user, pid, {"identifiers": {**_identifiers(tx, pid), "staff": staff_number(n)}})
            if rng.random() < 0.95 or n in HBSAG_POSITIVE + HCV_POSITIVE:  # a few missed the round
                _screened(tx, user, round_id, n, pid, today)
            _vaccinations(tx, user, n, pid, today)

    store.write(job)


def _identifiers(tx: Transaction, pid: str) -> dict[str, str]:
    found = queries.patient_fields(tx, pid) or {}
    return dict(found.get("identifiers") or {})


def lab_file(store: Store, path: Path, *, today: date | None = None) -> int:
    """The next round's file as the Homs lab sends it (template homs-phl), for trying the import;
    returns its rows."""
    today = today or date.today()
    staff = store.read(lambda conn: [(row[0], row[1]) for row in conn.execute(
        "SELECT json_extract(identifiers, '$.staff'), birth_date FROM patients "
        "WHERE json_extract(identifiers, '$.staff') IS NOT NULL ORDER BY 1")])
    if not staff:
        return 0  # a demo too small to have staff screened: no file to try
    collected = (today - timedelta(days=2)).strftime("%d/%m/%Y")
    rows = [["Sample ID", "Staff ID", "Date of birth", "Test", "Result", "Unit", "Collected"]]
    for n, (number, born) in enumerate(staff[:30]):
        sample = f"S26-{6000 + n:05d}"
        dob = date.fromisoformat(born).strftime("%d/%m/%Y")
        rows.append([sample, number, dob, "HBsAg", "Non-reactive", "", collected])
        rows.append([sample, number, dob, "Anti-HBs", str(12 + n * 9), "mIU/mL", collected])
    rows.append(["S26-06900", "HMS-09999", "01/01/1990", "HBsAg", "Non-reactive", "", collected])  # nobody's number
    rows.append(["S26-06901", staff[0][0], date.fromisoformat(staff[0][1]).strftime("%d/%m/%Y"), "Anti-HBs", "35",
                 "ng/mL", collected])  # a unit anti-HBs is never reported in
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        csv.writer(out).writerows(rows)
    return len(rows) - 1
