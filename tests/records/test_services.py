"""Clinic services: what staff do, as validated, role-checked journal changes."""

from __future__ import annotations

import pytest

from fieldkit.errors import FieldkitError
from fieldkit.records.services import Clinic
from fieldkit.store.keystore import User

SUPERVISOR = User("sup1", "amina", "supervisor")
CLINICIAN = User("cli1", "omar", "clinician")
CLERK = User("clk1", "bao", "clerk")

FATIMA = {"given_name": "فاطمة", "family_name": "الحسن", "sex": "female", "birth_date": "1988-03-02",
          "phone": "+963944123456", "identifiers": {"national": "03010012345"}}


def clinic(store, user=SUPERVISOR):
    return Clinic(store, user)


def journal_size(store):
    return len(store.entries_after({}, limit=10**6))


def test_register_then_find_in_both_scripts(store):
    pid = clinic(store).register(FATIMA).patient_id
    for query in ("فاطمه", "fatima", "الحسن", "hasan", "03010012345", "944123456"):
        assert [p.id for p in clinic(store).search(query)] == [pid], query


def test_duplicate_registration_is_warned_but_saved(store):
    first = clinic(store).register(FATIMA).patient_id
    variant = FATIMA | {"given_name": "فاطمه", "identifiers": {}}
    second = clinic(store).register(variant, reason="patient insists")
    assert [m.patient.id for m in second.duplicates] == [first]
    assert "same phone" in second.duplicates[0].reasons
    assert second.patient_id != first and journal_size(store) == 2


def test_different_person_is_not_a_duplicate(store):
    clinic(store).register(FATIMA)
    other = clinic(store).register({"given_name": "محمود", "family_name": "الحسن", "sex": "male",
                                    "birth_date": "1950-01-01"})
    assert other.duplicates == []


def test_invalid_input_writes_nothing(store):
    with pytest.raises(FieldkitError):
        clinic(store).register({"given_name": ""})
    pid = clinic(store).register(FATIMA).patient_id
    with pytest.raises(FieldkitError, match="Temperature"):
        clinic(store).record_encounter({"patient_id": pid, "vitals": {"temperature_c": 52}})
    assert journal_size(store) == 1


def test_roles_are_checked_where_the_change_is_made(store):
    pid = clinic(store, CLERK).register(FATIMA).patient_id
    with pytest.raises(FieldkitError, match="a clerk may not record encounter"):
        clinic(store, CLERK).record_encounter({"patient_id": pid, "vitals": {"pulse": 80}})
    with pytest.raises(FieldkitError, match="a clinician may not merge patients"):
        clinic(store, CLINICIAN).merge(pid, pid)
    with pytest.raises(FieldkitError, match="may not resolve conflict"):
        clinic(store, CLINICIAN).resolve_conflict("x", "y", "z")


def test_encounter_scores_and_tasks(store):
    pid = clinic(store).register(FATIMA).patient_id
    recorded = clinic(store, CLINICIAN).record_encounter({
        "patient_id": pid, "vitals": {"temperature_c": "٣٩٫٢", "pulse": 118, "resp_rate": 24,
                                       "systolic_bp": 98, "diastolic_bp": 60, "spo2": 93, "avpu": "A"},
        "diagnoses": [{"code": "J18.9", "text": "pneumonia"}],
        "referral": {"to_facility": "Aleppo University Hospital", "reason": "severe pneumonia",
                     "urgency": "urgent"},
        "follow_up": {"due": "2026-12-01", "reason": "review"}})
    assert (recorded.news2.total, recorded.news2.band) == (10, "high")
    record = clinic(store).patient(pid)
    [encounter] = record["encounters"]
    assert encounter["scores"]["news2"]["total"] == 10 and encounter["vitals"]["temperature_c"] == 39.2
    assert record["referrals"][0]["status"] == "requested" and record["followups"][0]["status"] == "open"
    clinic(store, CLINICIAN).set_followup_status(record["followups"][0]["id"], "done")
    assert clinic(store).patient(pid)["followups"][0]["status"] == "done"


def test_encounters_are_amended_never_overwritten(store):
    pid = clinic(store).register(FATIMA).patient_id
    eid = clinic(store).record_encounter({"patient_id": pid, "vitals": {"pulse": 80}}).encounter_id
    with pytest.raises(FieldkitError, match="an amendment needs a note"):
        clinic(store).amend(eid, " \u200f ")
    with pytest.raises(FieldkitError, match="no encounter with id nope"):
        clinic(store).entered_in_error("nope", "wrong patient")
    clinic(store).amend(eid, "pulse was taken after exercise")
    clinic(store).entered_in_error(eid, "wrong patient")
    [encounter] = clinic(store).patient(pid)["encounters"]
    assert encounter["vitals"]["pulse"] == 80
    assert [a["kind"] for a in encounter["amendments"]] == ["amend", "entered_in_error"]
    assert encounter["entered_in_error"]


def test_void_and_merge_hide_but_never_delete(store):
    a = clinic(store).register(FATIMA).patient_id
    b = clinic(store).register(FATIMA | {"phone": ""}).patient_id
    clinic(store).merge(b, a)
    assert [p.id for p in clinic(store).search("fatima")] == [a]
    assert clinic(store).patient(b)["merged_into"] == a
    clinic(store).unmerge(b)
    assert sorted(p.id for p in clinic(store).search("fatima")) == sorted([a, b])
    clinic(store).void(b, "registered by mistake")
    assert [p.id for p in clinic(store).search("fatima")] == [a]
    assert clinic(store).patient(b)["voided"] == 1


def test_edit_records_the_version_seen(store):
    pid = clinic(store).register(FATIMA).patient_id
    assert clinic(store).edit(pid, {"locality": "Idlib"}) == ["locality"]
    assert clinic(store).edit(pid, {"locality": "Idlib"}) == []
    [_, update] = [e for e in store.entries_after({}) if e.entity_id == pid]
    assert update.payload["base"] == {"locality": ""}
    with pytest.raises(FieldkitError, match="cannot edit merged_into"):
        clinic(store).edit(pid, {"merged_into": "x"})


def test_supervisor_resolves_a_safety_conflict(make_store):
    a, b = make_store(device=1), make_store(device=2)
    pid = clinic(a).register(FATIMA).patient_id
    b.ingest(a.entries_after({}))
    clinic(a).edit(pid, {"birth_date": "1987-03-02"})
    clinic(b).edit(pid, {"birth_date": "1989-03-02"})
    b.ingest(a.entries_after(b.version_vector()))
    [conflict] = clinic(b).patient(pid)["conflicts"]
    assert conflict["needs_review"] and {c["value"] for c in conflict["candidates"]} == {"1987-03-02", "1989-03-02"}
    with pytest.raises(FieldkitError, match="needs a reason"):
        clinic(b).resolve_conflict(conflict["id"], "1988-03-02", " ")
    clinic(b).resolve_conflict(conflict["id"], "1988-03-02", "checked the birth certificate")
    record = clinic(b).patient(pid)
    assert record["birth_date"] == "1988-03-02" and record["conflicts"] == []
    a.ingest(b.entries_after(a.version_vector()))
    assert a.state_hash() == b.state_hash()
    assert clinic(a).patient(pid)["conflicts"] == []


def test_opening_a_record_is_audited(store):
    pid = clinic(store).register(FATIMA).patient_id
    clinic(store, CLINICIAN).patient(pid)
    rows = store.read(lambda conn: conn.execute("SELECT user, action FROM audit WHERE entity_id = ?", (pid,)).fetchall())
    assert ("cli1", "view patient") in rows


def test_a_child_gets_news2_points_but_no_adult_risk_band(store):
    pid = clinic(store).register({"given_name": "Lina", "birth_date": "2024-05-01"}).patient_id
    recorded = clinic(store).record_encounter({"patient_id": pid, "vitals": {
        "resp_rate": 38, "pulse": 130, "spo2": 98, "temperature_c": 37, "systolic_bp": 95, "avpu": "A"}})
    assert recorded.news2.band == "under 16" and recorded.news2.total == 7
    adult = clinic(store).register(FATIMA).patient_id
    assert clinic(store).record_encounter({"patient_id": adult, "vitals": {
        "resp_rate": 38, "pulse": 130, "spo2": 98, "temperature_c": 37, "systolic_bp": 95, "avpu": "A"}}).news2.band == "high"


def test_whole_name_matches_rank_before_longer_names(store):
    longer = clinic(store).register({"given_name": "آرش", "family_name": "محمدی"}).patient_id
    latin = clinic(store).register({"given_name": "Mohamed", "family_name": "Saleh"}).patient_id
    exact = clinic(store).register({"given_name": "آية", "other_names": "محمد", "family_name": "عيسى"}).patient_id
    found = [p.id for p in clinic(store).search("محمد")]
    assert found[0] == exact and set(found) == {exact, latin, longer}
    assert next(p.id for p in clinic(store).search("mohamed")) == latin
