"""Vaccinations on a real store (reference/clinical.md C acceptance tests): doses given, not given,
given elsewhere and entered in error; lots and their expiry; immunity from anti-HBs and the
follow-ups it raises; who is due, and a round's counts."""

from __future__ import annotations

import os
from datetime import date, timedelta

import pytest

from fieldkit.errors import FieldkitError
from fieldkit.permissions import NotAllowed
from fieldkit.records import immunity, immunizations, labs, schedules, vaccine_lists
from fieldkit.records.services import Clinic
from fieldkit.store.db import Store
from fieldkit.store.keystore import User

DOCTOR = User("doc", "Dr Hala", "clinician")
CLERK = User("clerk", "Omar", "clerk")
TODAY = date.today()
HEPB = "hepb-adult"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One clinic for the module: each test registers its own staff, so none sees another's doses."""
    opened = Store(tmp_path_factory.mktemp("vaccines") / "clinic.db", os.urandom(32), device_id="v" * 32)
    yield opened
    opened.close()


def staff(store, name: str = "Rania Haddad", born: str = "1985-04-02") -> str:
    return Clinic(store, DOCTOR).register({"given_name": name, "birth_date": born, "sex": "female"}).patient_id


def give(store, pid: str, on: date, vaccine: str = HEPB, **extra) -> immunizations.Given:
    return Clinic(store, DOCTOR).run(immunizations.give, {"patient_id": pid, "vaccine": vaccine,
                                                          "occurred": on.isoformat(), **extra})


def series(store, pid: str, first: date, *gaps: int) -> list[str]:
    """Doses on `first` and each gap (days) after the one before, with a lot."""
    given, on = [], first
    for gap in (0, *gaps):
        on += timedelta(days=gap)
        given.append(give(store, pid, on, lot="HB-2291").id)
    return given


def anti_hbs(store, pid: str, value: str, on: date, unit: str = "m[IU]/mL") -> str:
    return Clinic(store, DOCTOR).run(labs.record, {"patient_id": pid, "test": "anti-hbs", "value": value,
                                                   "unit": unit, "collected": on.isoformat()})


def status(store, pid: str) -> immunity.ImmunityStatus:
    return store.read(lambda conn: immunity.immunity_status(conn, pid))


def card(store, pid: str) -> dict:
    [shown] = [c for c in store.read(lambda conn: vaccine_lists.card(conn, pid, today=TODAY))["schedules"]
               if c["schedule"].startswith("hepb-staff@")]
    return {(d["round"], d["number"]): d for d in shown["doses"]} | {"immunity": shown["immunity"][0]}


def open_tasks(store, pid: str) -> list[str]:
    return store.read(lambda conn: [row[0] for row in conn.execute(
        "SELECT reason FROM followups WHERE patient_id = ? AND status = 'open'", (pid,))])


def test_dose_two_at_three_weeks_needs_a_reason_stays_flagged_and_moves_dose_three(store):
    """clinical.md C test 1."""
    pid = staff(store)
    first = TODAY - timedelta(days=60)
    give(store, pid, first, lot="HB-2291")
    before = store.version_vector()
    with pytest.raises(FieldkitError, match="below minimum interval: dose 2 is allowed from"):
        give(store, pid, first + timedelta(weeks=3), lot="HB-2291")
    assert store.version_vector() == before
    second = give(store, pid, first + timedelta(weeks=3), lot="HB-2291", early_reason="leaves for Deir ez-Zor")
    assert (second.dose_number, second.flags) == (2, (schedules.BELOW_INTERVAL,))
    shown = card(store, pid)
    assert shown[(1, 2)]["flags"] == (schedules.BELOW_INTERVAL,) and shown[(1, 2)]["state"] == schedules.COMPLETE
    assert shown[(1, 3)]["due"] == schedules.after(first + timedelta(weeks=3), "5m")
    assert shown[(1, 3)]["earliest"] == first + timedelta(weeks=16)
    [saved] = [r for r in store.read(lambda conn: immunizations.doses_of(conn, pid)) if r["id"] == second.id]
    assert saved["early_reason"] == "leaves for Deir ez-Zor" and saved["dose_number"] == 2


def test_the_dose_number_is_derived_and_a_wrong_one_refused(store):
    pid = staff(store)
    with pytest.raises(FieldkitError, match="this is dose 1 of the series, not 2"):
        give(store, pid, TODAY, dose_number=2)
    assert give(store, pid, TODAY - timedelta(days=40), lot="HB-1").dose_number == 1
    assert give(store, pid, TODAY, lot="HB-1", dose_number="2").dose_number == 2


def test_anti_hbs_twelve_six_weeks_after_dose_three_is_immune(store):
    """clinical.md C test 2, first part."""
    pid = staff(store)
    doses = series(store, pid, TODAY - timedelta(days=300), 30, 160)
    assert status(store, pid).state == immunity.TEST_DUE
    anti_hbs(store, pid, "12", TODAY - timedelta(days=110 - 42))
    found = status(store, pid)
    assert found.state == immunity.IMMUNE and found.round == 1
    assert any("anti-HBs 12 m[IU]/mL" in line and "6 weeks after the last dose" in line for line in found.evidence)
    assert Clinic(store, DOCTOR).run(immunity.raise_tasks, pid) == []
    assert len(doses) == 3


def test_a_low_anti_hbs_restarts_the_series_once_and_a_second_failure_asks_for_hbsag(store):
    """clinical.md C test 2: 6 m[IU]/mL creates "repeat series"; a second failure an HBsAg/anti-HBc task."""
    pid = staff(store, "Samer Khoury", "1979-11-30")
    start = TODAY - timedelta(days=700)
    series(store, pid, start, 35, 155)  # last dose on day 190
    anti_hbs(store, pid, "2.5", start + timedelta(days=200), unit="[IU]/L")  # another unit: not read
    assert status(store, pid).state == immunity.TEST_DUE
    anti_hbs(store, pid, "6", start + timedelta(days=232))
    found = status(store, pid)
    assert (found.state, found.round, found.restart) == (immunity.REPEAT_SERIES, 2, start + timedelta(days=232))
    assert any("not read, only m[IU]/mL is" in line for line in found.evidence)
    # Recording the result raised its follow-up; raising it again (a second import) raises none.
    assert open_tasks(store, pid) == [schedules.schedule("hepb-staff").series[0].test.low_first]
    assert Clinic(store, DOCTOR).run(immunity.raise_tasks, pid) == []
    due = store.read(lambda conn: vaccine_lists.due_list(conn, "hepb-staff", today=TODAY, population=[pid]))
    assert [(r.round, r.dose, r.state) for r in due] == [(2, 1, schedules.OVERDUE)]
    second = give(store, pid, start + timedelta(days=240), lot="HB-2291")
    assert (second.round, second.dose_number) == (2, 1)
    give(store, pid, start + timedelta(days=275), lot="HB-2291")
    give(store, pid, start + timedelta(days=430), lot="HB-2291")
    anti_hbs(store, pid, "5", start + timedelta(days=472))
    found = status(store, pid)
    assert found.state == immunity.NON_RESPONDER and found.task and "test HBsAg and anti-HBc" in found.task
    Clinic(store, DOCTOR).run(immunity.raise_tasks, pid)
    Clinic(store, DOCTOR).run(immunity.raise_tasks, pid)
    assert sorted(open_tasks(store, pid)) == sorted([schedules.schedule("hepb-staff").series[0].test.low_first,
                                                     found.task])
    shown = card(store, pid)
    assert shown[(2, 3)]["state"] == schedules.COMPLETE and (3, 1) not in shown  # no third series
    assert store.read(lambda conn: vaccine_lists.due_list(conn, "hepb-staff", today=TODAY, population=[pid])) == []


def test_a_historical_dose_needs_no_lot_and_a_dose_given_here_without_one_warns(store):
    """clinical.md C test 3."""
    pid = staff(store)
    elsewhere = Clinic(store, DOCTOR).run(immunizations.historical, {
        "patient_id": pid, "vaccine": HEPB, "occurred": "2019", "location": "Aleppo university hospital"})
    assert elsewhere.warnings == () and elsewhere.dose_number == 1
    here = give(store, pid, TODAY)
    assert here.dose_number == 2 and here.warnings == ("no lot recorded: add it if you can",)
    rows = {r["id"]: r for r in store.read(lambda conn: immunizations.doses_of(conn, pid))}
    assert rows[elsewhere.id]["primary_source"] is False and rows[elsewhere.id]["occurred"] == "2019"
    assert rows[elsewhere.id]["status"] == "historical" and rows[elsewhere.id]["lot"] is None
    assert rows[here.id]["primary_source"] is True and rows[here.id]["route"] == "intramuscular"
    month = Clinic(store, DOCTOR).run(immunizations.historical, {"patient_id": staff(store), "vaccine": HEPB,
                                                                 "occurred": "05/2021"})
    assert store.read(lambda conn: immunizations._record(conn, month.id))["occurred"] == "2021-05"


@pytest.mark.parametrize(("occurred", "partial", "refusal"), [
    ("1985-04-01", "1984", "before the patient's birth"),
    ((TODAY + timedelta(days=1)).isoformat(), str(TODAY.year + 1), "is in the future"),
])
def test_a_dose_before_birth_or_in_the_future_is_refused_and_nothing_saved(store, occurred, partial, refusal):
    """clinical.md C test 4, first part (born 2 April 1985: a dose of "04/1985" may be after birth)."""
    pid = staff(store)
    before = store.version_vector()
    with pytest.raises(FieldkitError, match=refusal) as refused:
        Clinic(store, DOCTOR).run(immunizations.give, {"patient_id": pid, "vaccine": HEPB, "occurred": occurred})
    assert "\n" not in str(refused.value)
    for typed in (occurred, partial):
        with pytest.raises(FieldkitError, match=refusal):
            Clinic(store, DOCTOR).run(immunizations.historical, {"patient_id": pid, "vaccine": HEPB, "occurred": typed})
    assert store.version_vector() == before


def test_an_expired_lot_needs_a_reason_yet_stays_selectable_for_old_records(store):
    """clinical.md C test 4, second part (and manage-vaccinations-in-schools#2530)."""
    pid = staff(store)
    expiry = TODAY - timedelta(days=10)
    Clinic(store, DOCTOR).run(immunizations.add_lot, {"vaccine": HEPB, "lot": "EXP-01", "expiry": expiry.isoformat(),
                                                      "manufacturer": "Serum Institute"})
    with pytest.raises(FieldkitError, match="listed already"):
        Clinic(store, DOCTOR).run(immunizations.add_lot, {"vaccine": HEPB, "lot": "EXP-01", "expiry": "2031-01-01"})
    old = give(store, pid, expiry - timedelta(days=50), lot="EXP-01")  # before it expired: no reason needed
    assert old.warnings == ()
    before = store.version_vector()
    with pytest.raises(FieldkitError, match="lot EXP-01 expired on .*: give a reason"):
        give(store, pid, TODAY, lot="EXP-01")
    assert store.version_vector() == before
    used = give(store, pid, TODAY, lot="EXP-01", expired_reason="no other stock; manufacturer extension letter")
    rows = {r["id"]: r for r in store.read(lambda conn: immunizations.doses_of(conn, pid))}
    assert rows[used.id]["lot_expiry"] == expiry.isoformat() and rows[used.id]["manufacturer"] == "Serum Institute"
    assert rows[used.id]["reason"].startswith("no other stock")
    listed = store.read(lambda conn: immunizations.lots(conn, HEPB))
    assert [(lot["lot"], lot["expired"]) for lot in listed if lot["lot"] == "EXP-01"] == [("EXP-01", True)]


def test_not_given_and_entered_in_error_leave_the_due_calculation(store):
    """clinical.md C test 5 (the FHIR export of these statuses is the export's)."""
    pid = staff(store)
    first = TODAY - timedelta(days=90)
    give(store, pid, first, lot="HB-2291")

    def next_dose():
        [row] = store.read(lambda conn: vaccine_lists.due_list(conn, "hepb-staff", today=TODAY, population=[pid]))
        return row.dose, row.state

    assert next_dose() == (2, schedules.OVERDUE)
    refused = Clinic(store, DOCTOR).run(immunizations.not_given, {"patient_id": pid, "vaccine": HEPB,
                                                                  "reason": "out of stock"})
    assert refused.dose_number == 2 and next_dose() == (2, schedules.OVERDUE)
    with pytest.raises(FieldkitError, match="say why"):
        Clinic(store, DOCTOR).run(immunizations.not_given, {"patient_id": pid, "vaccine": HEPB, "reason": "other"})
    mistaken = give(store, pid, TODAY - timedelta(days=30), lot="HB-2291")
    rows = {r["id"]: r for r in store.read(lambda conn: immunizations.doses_of(conn, pid))}
    # A not-given dose later given becomes historical (Tamanu), and is still not a dose.
    assert rows[refused.id]["status"] == "historical" and rows[refused.id]["reason"] == "out-of-stock"
    assert rows[refused.id]["primary_source"] is True
    assert store.read(lambda conn: vaccine_lists.due_list(conn, "hepb-staff", today=TODAY, population=[pid])) == []
    with pytest.raises(FieldkitError, match="needs a reason"):
        Clinic(store, DOCTOR).run(immunizations.entered_in_error, mistaken.id, " ")
    Clinic(store, DOCTOR).run(immunizations.entered_in_error, mistaken.id, "given to her sister")
    with pytest.raises(FieldkitError, match="already"):
        Clinic(store, DOCTOR).run(immunizations.entered_in_error, mistaken.id, "again")
    assert next_dose() == (2, schedules.OVERDUE)
    kept = {r["id"]: r for r in store.read(lambda conn: immunizations.doses_of(conn, pid))}[mistaken.id]
    assert (kept["status"], kept["reason"]) == ("entered-in-error", "given to her sister")


def test_a_correction_is_checked_like_a_new_dose(store):
    pid = staff(store)
    first = give(store, pid, TODAY - timedelta(days=70), lot="HB-3")
    second = give(store, pid, TODAY - timedelta(days=20), lot="HB-3")
    with pytest.raises(FieldkitError, match="below minimum interval"):
        Clinic(store, DOCTOR).run(immunizations.correct, second.id, {"occurred": (TODAY - timedelta(days=60)).isoformat()})
    fixed = Clinic(store, DOCTOR).run(immunizations.correct, second.id, {"site": "right arm", "lot": "HB-4"})
    assert fixed.dose_number == 2
    row = store.read(lambda conn: immunizations._record(conn, second.id))
    assert (row["site"], row["lot"]) == ("right arm", "HB-4")
    with pytest.raises(FieldkitError, match="cannot correct vaccine"):
        Clinic(store, DOCTOR).run(immunizations.correct, first.id, {"vaccine": "bcg"})


def test_a_clerk_records_no_vaccination(store):
    pid = staff(store)
    with pytest.raises(NotAllowed):
        Clinic(store, CLERK).run(immunizations.give, {"patient_id": pid, "vaccine": HEPB})


def test_the_due_list_puts_the_most_overdue_first_and_a_round_counts_its_people(store):
    long_ago, recently, immune, untouched = (staff(store, name) for name in ("Zaid", "Yara", "Widad", "Vera"))
    give(store, long_ago, TODAY - timedelta(days=200), lot="L")
    give(store, recently, TODAY - timedelta(days=70), lot="L")
    series(store, immune, TODAY - timedelta(days=300), 30, 160)
    anti_hbs(store, immune, "250", TODAY - timedelta(days=60))
    people = [long_ago, recently, immune, untouched]
    rows = store.read(lambda conn: vaccine_lists.due_list(conn, "hepb-staff", today=TODAY, population=people))
    assert [(r.name, r.dose, r.state) for r in rows] == [
        ("Zaid", 2, schedules.OVERDUE), ("Yara", 2, schedules.OVERDUE), ("Vera", 1, schedules.DUE)]
    assert rows[0].days_overdue > rows[1].days_overdue > 0
    overdue = store.read(lambda conn: vaccine_lists.due_list(conn, "hepb-staff", today=TODAY, population=people,
                                                             overdue_only=True))
    assert [r.name for r in overdue] == ["Zaid", "Yara"]
    counts = store.read(lambda conn: vaccine_lists.round_counts(conn, people))
    assert counts == {"population": 4, "vaccinated": 3, "completed": 1, "immune": 1, "repeat_series": 0,
                      "non_responders": 0, "test_due": 0}


def test_the_due_list_names_whoever_awaits_their_test(store):
    pid = staff(store, "Tala")
    series(store, pid, TODAY - timedelta(days=260), 30, 160)  # last dose 70 days ago: test overdue after 2 months
    [row] = store.read(lambda conn: vaccine_lists.due_list(conn, "hepb-staff", today=TODAY, population=[pid]))
    assert (row.dose, row.state) == (None, schedules.OVERDUE)
    assert row.due == schedules.after(TODAY - timedelta(days=70), "1m")


@pytest.mark.parametrize(("value", "days_after", "state"), [
    ("10", 42, immunity.IMMUNE), ("9.9", 42, immunity.REPEAT_SERIES), ("١٢", 42, immunity.IMMUNE),
    ("<10", 42, immunity.REPEAT_SERIES), (">1000", 42, immunity.IMMUNE),
    ("<50", 42, immunity.TEST_DUE), ("haemolysed", 42, immunity.TEST_DUE),  # says nothing: not read
    ("3", 21, immunity.TEST_DUE),  # three weeks after the last dose: too soon to read
])
def test_the_protective_level_is_ten_read_from_four_weeks_after_the_last_dose(value, days_after, state):
    hepatitis_b = schedules.schedule("hepb-staff").series[0]
    first = date(2025, 1, 6)
    held = [schedules.HeldDose(f"d{n}", HEPB, first + timedelta(days=offset)) for n, offset in enumerate((0, 30, 180))]
    result = immunity.Result("r", first + timedelta(days=180 + days_after), value, "m[IU]/mL")
    found = immunity.assess(hepatitis_b, held, [result])
    assert found.state == state
    if state == immunity.TEST_DUE:
        assert any("not read" in line or "too soon" in line for line in found.evidence)
