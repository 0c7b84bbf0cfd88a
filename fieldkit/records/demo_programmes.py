"""The demo clinic's programme work, so every programme and referral screen shows something real
on first start: a home-care cohort on daily check-ins (some red, one taken to hospital, some
missing their calls), an oncology-abroad registry by destination, a visiting surgical mission,
and referrals in every state, one of them disputed.

Drawn from the demo's own patients, by country (their phone's prefix), through the same use
cases staff use; only the days (enrolment, check-in, referral) are in the past: the journal
stamps them when the demo is made, as a laptop catching up on paper records would.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from fieldkit.records import enrolments, referral_services
from fieldkit.store.db import Change, Store, Transaction
from fieldkit.store.keystore import User

FACILITY = "SY-HMS-MC"  # the demo laptop is the Homs mobile clinic
COHORT = 24
REGISTRY = {"Tunisia": 31, "Egypt": 7, "Turkey": 1, "Germany": 1}  # Libya's shares, 40 files
MISSION = 20  # paediatric catheterisations in four days
GREEN = {"spo2": 97, "resp_rate": 16, "pulse": 82, "temperature_c": 36.9}
AMBER = {"spo2": 93, "resp_rate": 22, "pulse": 96, "temperature_c": 38.2}
RED = {"spo2": 87, "resp_rate": 31, "pulse": 118, "temperature_c": 39.1, "symptoms": ["breathless_rest"]}


def _patients(tx: Transaction, prefix: str, count: int, skip: int = 0) -> list[str]:
    return [row[0] for row in tx.execute(
        "SELECT id FROM patients WHERE phone LIKE ? AND merged_into IS NULL AND voided IS NOT 1 ORDER BY id LIMIT ? OFFSET ?",
        (prefix + "%", count, skip))]


def _cohort(tx: Transaction, user: User, rng: random.Random, today: date) -> None:
    """Patients at home on a 14-day plan, enrolled 1 to 17 days ago; most check in daily."""
    for n, pid in enumerate(_patients(tx, "+84", COHORT)):
        started = today - timedelta(days=1 + n * 16 // COHORT)
        eid = enrolments.enrol(tx, user, {"patient_id": pid, "programme": "home-triage", "team": "Vinh Chau",
                                          "enrolled_on": started.isoformat()})
        silent_from = today - timedelta(days=2) if n % 8 == 3 else None  # stopped answering: two missed
        for offset in range((today - started).days):
            day = started + timedelta(days=offset)
            if (silent_from and day >= silent_from) or rng.random() < 0.06:
                continue
            readings = AMBER if rng.random() < 0.12 else GREEN
            enrolments.check_in(tx, user, {"enrolment_id": eid, "day": day.isoformat(), **readings})
        if n in (0, 1):  # red today: one still waiting for a doctor, one taken to hospital
            checkin_id, _level = enrolments.check_in(tx, user, {"enrolment_id": eid, "day": today.isoformat(), **RED})
            if n == 1:
                enrolments.transfer(tx, user, checkin_id, "Homs National Hospital", "SpO2 87% at rest, RR 31")
        elif (today - started).days >= 14 and n % 2:
            enrolments.move(tx, user, eid, "completed", outcome="completed")


def _registry(tx: Transaction, user: User) -> None:
    """Oncology patients' files registered by a branch office, by destination country."""
    pids = iter(_patients(tx, "+218", sum(REGISTRY.values())))
    for country, count in REGISTRY.items():
        for n in range(count):
            pid = next(pids, None)
            if pid is None:
                return
            enrolments.enrol(tx, user, {"patient_id": pid, "programme": "oncology-abroad", "attributes": {
                "destination_country": country, "cancer_site": ("breast", "colon", "lymphoma", "lung")[n % 4],
                "branch_office": ("Tripoli", "Benghazi", "Misrata")[n % 3]}})


def _mission(tx: Transaction, user: User, today: date) -> None:
    for n, pid in enumerate(_patients(tx, "+963", MISSION, skip=40)):
        eid = enrolments.enrol(tx, user, {"patient_id": pid, "programme": "surgical-mission",
                                          "enrolled_on": (today - timedelta(days=6)).isoformat(), "attributes": {
            "team": "Paediatric cardiology (visiting)", "procedure": "cardiac catheterisation",
            "mission_dates": f"{today - timedelta(days=5):%d}-{today - timedelta(days=2):%d %b %Y}"}})
        if n < 16:
            enrolments.move(tx, user, eid, "completed", outcome="operated")
        elif n < 18:
            enrolments.move(tx, user, eid, "completed", outcome="deferred")


# Each referral the demo makes: (destination, urgency, kind, needs approval, its events so far).
REFERRALS: list[tuple[str, str, str, bool, list[dict[str, Any]]]] = [
    ("Homs National Hospital", "urgent", "referral", False, []),
    ("Aleppo University Hospital", "routine", "referral", False, [{"type": "issued"}]),
    ("Homs National Hospital", "emergency", "referral", False, [{"type": "sent"}]),
    ("Aleppo University Hospital", "routine", "referral", False, [{"type": "sent"}, {"type": "acknowledged"}]),
    ("Homs National Hospital", "urgent", "referral", False, [{"type": "sent"}, {"type": "arrived"}]),
    ("Homs National Hospital", "urgent", "referral", False, [{"type": "sent"}, {"type": "arrived"}, {
        "type": "feedback", "findings": "community-acquired pneumonia, right lower lobe",
        "diagnosis": "J18.1", "treatment": "ceftriaxone 1 g daily for 5 days",
        "recommendations": "amoxicillin 1 g tds for 5 more days; recheck SpO2 in one week"}]),
    ("Aleppo University Hospital", "routine", "econsult", False, [{"type": "sent"}]),
    ("Idlib Central", "routine", "referral", False, [{"type": "sent"}, {"type": "not_attended", "reason": "transport"}]),
    ("Homs National Hospital", "routine", "referral", False, [{"type": "cancelled", "note": "improved at home"}]),
    ("Idlib Central", "urgent", "referral", False, [{"type": "redirected", "redirected_to": "Homs National Hospital"}]),
    ("Aleppo University Hospital", "routine", "referral", False, [{"type": "sent"}, {"type": "lost"}]),
    ("Salah Azaiez Institute, Tunis", "routine", "referral", True, []),
    ("Salah Azaiez Institute, Tunis", "routine", "referral", True, [
        {"type": "approved", "board_reference": "NCB-2026-0418"}]),
    ("National Cancer Institute, Cairo", "routine", "referral", True, [
        {"type": "declined", "board_reference": "NCB-2026-0377", "note": "treatable in Tripoli"}]),
]
OVERDUE_DAYS = 20  # the emergency referral sent this long ago has not arrived


def _referrals(tx: Transaction, user: User, today: date) -> None:
    pids = _patients(tx, "+963", len(REFERRALS) + 1)
    for pid, (to, urgency, kind, board, events) in zip(pids, REFERRALS):
        rid = referral_services.refer(tx, user, {
            "patient_id": pid, "to_facility": to, "urgency": urgency, "kind": kind, "needs_approval": board,
            "reason": "specialist assessment", "tests_done": "full blood count, CXR", "no_known_allergies": True},
            on=today - timedelta(days=OVERDUE_DAYS) if (urgency, events) == ("emergency", [{"type": "sent"}]) else None)
        for details in events:
            referral_services.record_event(tx, user, rid, details)
    # A dispute, as two laptops make one: arrived recorded at the hospital, cancelled at the unit,
    # neither having seen the other (the cancellation names the event it saw: "sent").
    disputed = referral_services.refer(tx, user, {"patient_id": pids[-1], "to_facility": "Homs National Hospital",
                                                  "urgency": "urgent", "reason": "chest pain", "tests_done": "ECG"})
    referral_services.record_event(tx, user, disputed, {"type": "sent"})
    seen = tx.execute("SELECT ver FROM referral_events WHERE referral_id = ?", (disputed,)).fetchone()[0]
    referral_services.record_event(tx, user, disputed, {"type": "arrived"})
    tx.append([Change("referral_event", disputed, "cancelled", {"after": seen, "note": "family said she stayed home"})],
              user=user.id)


def _followed_through(tx: Transaction, user: User, rng: random.Random, today: date) -> None:
    """The referrals the demo's visits made, taken as far as a clinic would have by now: the
    week's still to send or on their way, older ones arrived, answered or closed some other way."""
    for rid, created, urgency in tx.execute(
            "SELECT r.id, e.recorded, r.urgency FROM referrals r JOIN encounters e ON e.id = r.encounter_id "
            "WHERE r.status = 'requested'").fetchall():
        age = (today - date.fromtimestamp(created / 1000)).days
        if age < 2 or (urgency == "routine" and rng.random() < 0.05):
            continue  # this week's, and a few the unit never sent: the overdue list's
        events: list[dict[str, Any]] = [{"type": "sent"}]
        roll = rng.random()
        if age > 21 and roll < 0.55:
            events += [{"type": "arrived"}, {"type": "feedback", "findings": "seen in clinic",
                                             "recommendations": "continue treatment; review at the unit"}]
        elif age > 5 and roll < 0.75:
            events.append({"type": "arrived"})
        elif roll < 0.85 and age > 14:
            events.append({"type": "not_attended", "reason": rng.choice(("cost", "transport", "security", "refused"))})
        for details in events:
            referral_services.record_event(tx, user, rid, details)


def _to_us(tx: Transaction, user: User) -> None:
    """Patients a hospital sent back to the mobile clinic for follow-up: the "referrals to us" list."""
    for pid in _patients(tx, "+963", 3, skip=30):
        tx.execute("INSERT OR REPLACE INTO meta VALUES ('facility', 'SY-HMS-NH')")
        rid = referral_services.refer(tx, user, {"patient_id": pid, "to_facility": FACILITY, "urgency": "routine",
                                                 "reason": "wound care after discharge", "tests_done": "none"})
        referral_services.record_event(tx, user, rid, {"type": "sent"})
    tx.execute("INSERT OR REPLACE INTO meta VALUES ('facility', ?)", (FACILITY,))


def seed_programmes(store: Store, user: User, *, seed: int = 2026, today: date | None = None) -> None:
    """Add the programme and referral work to a seeded demo clinic, in one transaction."""
    today = today or date.today()
    rng = random.Random(f"programmes {seed}")

    def job(tx: Transaction) -> None:
        tx.execute("INSERT OR REPLACE INTO meta VALUES ('facility', ?)", (FACILITY,))
        _cohort(tx, user, rng, today)
        _registry(tx, user)
        _mission(tx, user, today)
        _followed_through(tx, user, rng, today)
        _referrals(tx, user, today)
        _to_us(tx, user)

    store.write(job)

