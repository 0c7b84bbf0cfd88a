"""Programme work on a real store (reference/clinical.md B and G): enrolment rules, daily check-ins
and their alerts, escalation to a transfer, missed check-ins, and counts that partition."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta

import pytest

from fieldkit.errors import FieldkitError
from fieldkit.permissions import NotAllowed
from fieldkit.records import enrolments, programme_lists, referral_lists, referral_services, registry, services
from fieldkit.records.models import Patient
from fieldkit.records.services import Clinic
from fieldkit.store.keystore import User

DOCTOR = User("doc", "Dr Lan", "clinician")
CLERK = User("clerk", "Omar", "clerk")
TODAY = date.today()
GREEN = {"spo2": 97, "resp_rate": 16, "pulse": 80, "temperature_c": 36.8}


def patient(store, name: str = "Nguyen Thi Hong", user: User = DOCTOR) -> str:
    return Clinic(store, user).register({"given_name": name, "birth_date": "1960-01-01", "sex": "female"}).patient_id


def enrol(store, pid: str, programme: str = "home-triage", user: User = DOCTOR, **extra) -> str:
    return Clinic(store, user).run(enrolments.enrol, {"patient_id": pid, "programme": programme, **extra})


def check_in(store, enrolment_id: str, day: date = TODAY, **readings) -> tuple[str, str]:
    return Clinic(store, DOCTOR).run(enrolments.check_in, {"enrolment_id": enrolment_id, "day": day.isoformat(),
                                                           **(readings or GREEN)})


def test_a_second_active_enrolment_is_refused_and_a_closed_one_allows_another(store):
    pid = patient(store)
    first = enrol(store, pid)
    before = store.version_vector()
    with pytest.raises(FieldkitError, match="already enrolled"):
        enrol(store, pid)
    assert store.version_vector() == before
    with pytest.raises(FieldkitError, match="needs an outcome"):
        Clinic(store, DOCTOR).run(enrolments.move, first, "completed")
    with pytest.raises(FieldkitError, match="not an outcome"):
        Clinic(store, DOCTOR).run(enrolments.move, first, "completed", outcome="cured by magic")
    Clinic(store, DOCTOR).run(enrolments.move, first, "completed", outcome="completed")
    enrol(store, pid)  # re-enrolment is allowed: the programme is not enrol-once
    with pytest.raises(FieldkitError, match="cannot become"):
        Clinic(store, DOCTOR).run(enrolments.move, first, "active")


def test_a_clerk_registers_a_file_into_the_oncology_registry_with_its_attributes(store):
    pid = patient(store, "Salem", CLERK)
    with pytest.raises(FieldkitError, match="Destination country"):
        enrol(store, pid, "oncology-abroad", CLERK, attributes={"cancer_site": "breast", "branch_office": "Tripoli",
                                                                "destination_country": "Mars"})
    eid = enrol(store, pid, "oncology-abroad", CLERK, attributes={
        "destination_country": "tunisia", "cancer_site": "breast", "branch_office": "Tripoli"})
    [row] = store.read(lambda conn: registry.line_list(conn, "oncology-abroad"))
    assert row["enrolment_id"] == eid and row["destination_country"] == "Tunisia"  # the canonical choice
    with pytest.raises(NotAllowed):
        Clinic(store, CLERK).run(enrolments.check_in, {"enrolment_id": eid, "day": TODAY.isoformat()})


@pytest.mark.parametrize(("readings", "level"), [
    (GREEN, "none"),
    (GREEN | {"spo2": 94}, "amber"),
    (GREEN | {"spo2": 95}, "none"),
    (GREEN | {"spo2": 89}, "red"),
    (GREEN | {"spo2": 90}, "amber"),
    (GREEN | {"resp_rate": 30}, "red"),
    (GREEN | {"resp_rate": 29}, "amber"),
    (GREEN | {"symptoms": ["chest_pain"]}, "red"),
])
def test_a_check_in_stores_its_alert_level_with_the_rule_set_version(store, readings, level):
    eid = enrol(store, patient(store))
    _checkin_id, reached = check_in(store, eid, **readings)
    assert reached == level
    [stored] = store.read(lambda conn: programme_lists.checkins_of(conn, eid))
    assert stored["alert"] == {"level": level, "ruleset": "covid-home-2021@1"} and stored["alert_level"] == level
    assert bool(stored["reasons"]) == (level != "none")


def test_check_ins_are_refused_outside_the_enrolment_and_while_in_hospital(store):
    eid = enrol(store, patient(store), enrolled_on=(TODAY - timedelta(days=3)).isoformat())
    with pytest.raises(FieldkitError, match="from the enrolment"):
        check_in(store, eid, TODAY - timedelta(days=5))
    with pytest.raises(FieldkitError, match="is not possible"):
        check_in(store, eid, spo2=12)
    Clinic(store, DOCTOR).run(enrolments.move, eid, "paused")
    with pytest.raises(FieldkitError, match="check-ins are for active ones"):
        check_in(store, eid)


def test_the_worklist_orders_by_risk_then_days_overdue_and_missed_windows_count(store):
    started = TODAY - timedelta(days=4)
    quiet, late, red = (enrol(store, patient(store, name), enrolled_on=started.isoformat())
                        for name in ("Quiet", "Late", "Red"))
    for offset in range(4):  # "quiet" checked in every day so far; today's is due
        check_in(store, quiet, started + timedelta(days=offset))
    check_in(store, late, started)  # then nothing for three days: missed, missed, missed
    check_in(store, red, started + timedelta(days=3), **(GREEN | {"spo2": 88}))
    today = store.read(lambda conn: programme_lists.worklist(conn, TODAY))
    assert [f.patient_name for f in today] == ["Red", "Late", "Quiet"]
    by_name = {f.patient_name: f for f in today}
    assert by_name["Late"].standing.misses_in_a_row == 3 and len(by_name["Late"].standing.missed) == 3
    assert by_name["Quiet"].standing.missed == () and by_name["Quiet"].standing.next_due == TODAY
    # "Red" missed three days too, then checked in: no longer two in a row.
    assert [f.patient_name for f in store.read(lambda conn: programme_lists.missed_twice(conn, TODAY))] == ["Late"]
    check_in(store, late, TODAY)
    assert "Late" not in [f.patient_name for f in store.read(lambda conn: programme_lists.worklist(conn, TODAY))]


def test_a_red_check_in_escalates_and_a_doctor_takes_it_on_with_a_linked_urgent_transfer(store):
    eid = enrol(store, patient(store))
    red, _level = check_in(store, eid, **(GREEN | {"spo2": 86, "symptoms": ["breathless_rest"]}))
    [waiting] = store.read(programme_lists.escalations)
    assert waiting["id"] == red and any("86" in reason for reason in waiting["reasons"])
    referral_id = Clinic(store, DOCTOR).run(enrolments.transfer, red, "VN-ST-GH", "SpO2 86% at rest")
    referral = store.read(lambda conn: referral_lists.detail(conn, referral_id))
    assert (referral["kind"], referral["urgency"], referral["escalated_from"], referral["enrolment_id"]) == (
        "transfer", "urgent", red, eid)
    assert store.read(programme_lists.escalations) == []
    assert store.read(lambda conn: conn.execute("SELECT status FROM enrolments WHERE id = ?", (eid,)).fetchone()[0]) \
        == "paused"  # in hospital: no check-ins due, none missed
    with pytest.raises(FieldkitError, match="taken on already"):
        Clinic(store, DOCTOR).run(enrolments.no_transfer, red, "fine")


def test_a_red_check_in_kept_at_home_says_why(store):
    eid = enrol(store, patient(store))
    red, _level = check_in(store, eid, **(GREEN | {"resp_rate": 32}))
    with pytest.raises(FieldkitError, match="say why"):
        Clinic(store, DOCTOR).run(enrolments.no_transfer, red, " ")
    Clinic(store, DOCTOR).run(enrolments.no_transfer, red, "rechecked by phone: 22/min, talking in sentences")
    assert store.read(programme_lists.escalations) == []


def test_a_hospital_stay_pauses_the_plan_and_resuming_picks_it_up(store):
    eid = enrol(store, patient(store), enrolled_on=(TODAY - timedelta(days=6)).isoformat())
    Clinic(store, DOCTOR).run(enrolments.move, eid, "paused", on=(TODAY - timedelta(days=5)).isoformat())
    Clinic(store, DOCTOR).run(enrolments.move, eid, "active", on=TODAY.isoformat())
    [followed] = store.read(lambda conn: programme_lists.followed(conn, TODAY))
    assert followed.standing.paused == 5 and len(followed.standing.missed) == 1  # only the day before admission


SOC_TRANG = {"completed": 1662, "escalated": 187, "died": 9, "lost": 41, "withdrew": 18}  # + 40 active = 1,957


def registered(tx, name: str) -> str:
    """A patient journalled without the duplicate check: thousands of fixture patients in seconds."""
    change = services.registration(Patient(given_name=name))
    tx.append([change], user=DOCTOR.id)
    return change.entity_id


def test_the_soc_trang_cohort_outcomes_partition_it_exactly(store):
    def build(tx):
        for n in range(1957):
            pid = registered(tx, f"BN {n}")
            eid = enrolments.enrol(tx, DOCTOR, {"patient_id": pid, "programme": "home-triage",
                                                "enrolled_on": (TODAY - timedelta(days=30)).isoformat()})
            outcome = next((o for o, upto in zip(SOC_TRANG, _cumulative(SOC_TRANG.values())) if n < upto), None)
            if outcome:
                enrolments.move(tx, DOCTOR, eid, "completed", outcome=outcome)
    store.write(build)
    rows = store.read(lambda conn: registry.line_list(conn, "home-triage"))
    by_outcome = registry.counts(rows, "outcome", unit="enrolments")
    assert by_outcome["total"] == 1957 and sum(by_outcome["groups"].values()) == 1957
    assert by_outcome["groups"] == {**SOC_TRANG, registry.NOT_RECORDED: 40}
    assert registry.counts(rows, "status", unit="patients")["groups"] == {"completed": 1917, "active": 40}


def _cumulative(values):
    total = 0
    for value in values:
        total += value
        yield total


LIBYA = {"Tunisia": 4416, "Egypt": 970, "Turkey": 186, "Germany": 48}


def test_the_libya_registry_by_destination_and_a_patient_referred_twice(store):
    def build(tx):
        ids = []
        for n in range(5620):
            country = next(c for c, upto in zip(LIBYA, _cumulative(LIBYA.values())) if n < upto)
            pid = registered(tx, f"Patient {n}")
            enrolments.enrol(tx, CLERK, {"patient_id": pid, "programme": "oncology-abroad", "attributes": {
                "destination_country": country, "cancer_site": "breast" if n % 3 else "colon",
                "branch_office": "Tripoli" if n % 2 else "Benghazi"}})
            ids.append(pid)
        return ids
    ids = store.write(build)
    rows = store.read(lambda conn: registry.line_list(conn, "oncology-abroad"))
    assert registry.counts(rows, "destination_country", unit="patients") == {
        "unit": "patients", "by": "destination_country", "total": 5620, "groups": LIBYA}
    tunisia = store.read(lambda conn: registry.line_list(conn, "oncology-abroad", where={"destination_country": "tunisia"}))
    assert len(tunisia) == 4416
    # One patient sent abroad twice: one patient, two referrals, and the report says which it counts.
    for _ in range(2):
        Clinic(store, DOCTOR).run(referral_services.refer, {"patient_id": ids[0], "to_facility": "TN-SAI"})
    referrals = store.read(registry.referral_rows)
    assert registry.counts(referrals, "to_facility", unit="referrals")["groups"] == {"Salah Azaiez Institute, Tunis": 2}
    assert registry.counts(referrals, "to_facility", unit="patients")["groups"] == {"Salah Azaiez Institute, Tunis": 1}


def test_csv_opens_in_a_spreadsheet_as_written_and_never_runs_a_formula():
    rows = [{"name": "=HYPERLINK(\"http://x\")", "note": "فاطمة", "n": 3}, {"name": "-2+3", "note": "@cmd", "n": ""}]
    text = registry.to_csv(rows, ["name", "note", "n"])
    assert text.startswith("\ufeff")
    parsed = list(csv.reader(io.StringIO(text[1:])))
    assert parsed == [["name", "note", "n"], ["'=HYPERLINK(\"http://x\")", "فاطمة", "3"], ["'-2+3", "'@cmd", ""]]


def test_closing_from_hospital_ends_the_stay(store):
    eid = enrol(store, patient(store), enrolled_on=(TODAY - timedelta(days=3)).isoformat())
    Clinic(store, DOCTOR).run(enrolments.move, eid, "paused", on=(TODAY - timedelta(days=2)).isoformat())
    Clinic(store, DOCTOR).run(enrolments.move, eid, "completed", outcome="escalated")
    stays = store.read(lambda conn: conn.execute("SELECT stays FROM enrolments WHERE id = ?", (eid,)).fetchone()[0])
    assert json.loads(stays) == [[(TODAY - timedelta(days=2)).isoformat(), TODAY.isoformat()]]
