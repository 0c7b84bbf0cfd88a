"""After a merge the surviving record reads as the whole person: everything recorded under either
registration, each item naming the record it came from; the duplicate's names and identifiers
find the survivor; and the merge can be undone whenever, leaving both as they were."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from fieldkit.errors import FieldkitError
from fieldkit.records import queries, referral_services, worklists
from fieldkit.records.services import Clinic
from fieldkit.store.keystore import User

SUPERVISOR = User("sup1", "amina", "supervisor")
CLINICIAN = User("cli1", "omar", "clinician")
FATIMA = {"given_name": "فاطمة", "family_name": "الحسن", "sex": "female", "birth_date": "1988-03-02",
          "phone": "+963944123456"}
# Registered again under another spelling, a new phone and a national id, with the allergy only here.
DUPLICATE = {"given_name": "Fatma", "family_name": "Hassan", "sex": "female", "birth_date": "1988-03-02",
             "phone": "+963933000111", "identifiers": {"national": "03010012345"}, "allergies": ["penicillin"]}
SICK = {"temperature_c": 39.2, "pulse": 118, "resp_rate": 24, "systolic_bp": 98, "spo2": 93}


@pytest.fixture
def merged(store):
    """(survivor, duplicate): the duplicate has an allergy, a NEWS2 10 encounter, a referral and a follow-up."""
    clinic = Clinic(store, SUPERVISOR)
    survivor = clinic.register(FATIMA).patient_id
    duplicate = clinic.register(DUPLICATE).patient_id
    clinic.record_encounter({"patient_id": survivor, "vitals": {"pulse": 70}})
    clinic.record_encounter({"patient_id": duplicate, "vitals": SICK,
                             "diagnoses": [{"code": "J18.9", "text": "pneumonia"}],
                             "referral": {"to_facility": "Idlib Central", "urgency": "urgent"},
                             "follow_up": {"due": (date.today() + timedelta(days=3)).isoformat()}})
    clinic.merge(duplicate, survivor)
    return survivor, duplicate


def test_the_survivor_shows_everything_recorded_under_either_record(store, merged):
    survivor, duplicate = merged
    record = Clinic(store, CLINICIAN).patient(survivor)
    assert [other["id"] for other in record["merged"]] == [duplicate]
    assert queries.every_allergy(record) == [{"patient_id": duplicate, "allergies": ["penicillin"], "disputed": None}]
    assert sorted(e["patient_id"] for e in record["encounters"]) == sorted([survivor, duplicate])
    assert [(f["patient_id"], f["status"]) for f in record["followups"]] == [(duplicate, "open")]
    # A listed facility is kept by its code, whatever case its name was typed in.
    assert [(r["patient_id"], r["to_facility"]) for r in record["referrals"]] == [(duplicate, "SY-IDL-CH")]
    # The duplicate itself is unchanged: its own record still reads as it was, pointing at the survivor.
    own = Clinic(store, CLINICIAN).patient(duplicate)
    assert own["merged_into"] == survivor and own["allergies"] == ["penicillin"] and len(own["encounters"]) == 1


def test_the_duplicates_names_and_identifiers_find_the_survivor(store, merged):
    survivor, _duplicate = merged
    for query in ("fatma", "hassan", "03010012345", "933000111", "فاطمة"):
        assert [p.id for p in Clinic(store, CLINICIAN).search(query)] == [survivor], query


def test_a_merge_of_a_merge_still_reads_through(store, merged):
    survivor, duplicate = merged
    clinic = Clinic(store, SUPERVISOR)
    third = clinic.register(FATIMA | {"given_name": "Fatimah", "phone": "+963955222333"}).patient_id
    clinic.merge(survivor, third)  # the survivor, with the duplicate in it, goes into a third record
    record = clinic.patient(third)
    assert {other["id"] for other in record["merged"]} == {survivor, duplicate}
    assert len(record["encounters"]) == 2
    assert [p.id for p in clinic.search("fatma")] == [third]


def test_unmerge_any_time_later_restores_both(store, merged):
    survivor, duplicate = merged
    clinic = Clinic(store, SUPERVISOR)
    pairs = store.read(lambda conn: worklists.duplicate_pairs(conn, SUPERVISOR, "fatma"))
    assert next((p["first"].id, p["second"].id, p["why"]) for p in pairs) == (survivor, duplicate, {"merged": True})
    clinic.unmerge(duplicate)
    record = clinic.patient(survivor)
    assert record["merged"] == [] and len(record["encounters"]) == 1 and record["referrals"] == []
    assert [p.id for p in clinic.search("03010012345")] == [duplicate]
    with pytest.raises(FieldkitError, match="is not merged"):
        clinic.unmerge(duplicate)


def test_two_laptops_merging_each_into_the_other_hide_neither(make_store):
    a, b = make_store(device=1), make_store(device=2)
    first = Clinic(a, SUPERVISOR).register(FATIMA).patient_id
    second = Clinic(a, SUPERVISOR).register(DUPLICATE).patient_id
    b.ingest(a.entries_after({}))
    Clinic(a, SUPERVISOR).merge(second, first)
    Clinic(b, SUPERVISOR).merge(first, second)
    a.ingest(b.entries_after(a.version_vector()))
    assert {p.id for p in Clinic(a, SUPERVISOR).search("fatma hassan")} | \
        {p.id for p in Clinic(a, SUPERVISOR).search("فاطمة")} == {first, second}


def test_a_service_error_is_in_the_users_language(store):
    from fieldkit.i18n import set_language

    set_language("ar")
    try:
        with pytest.raises(FieldkitError) as refused:
            Clinic(store, SUPERVISOR).unmerge("nobody")
    finally:
        set_language("en")
    assert "nobody" in str(refused.value) and "no patient" not in str(refused.value)


def test_tasks_close_and_reschedule(store, merged):
    survivor, _duplicate = merged
    clinic = Clinic(store, CLINICIAN)
    [follow_up] = clinic.patient(survivor)["followups"]
    later = (date.today() + timedelta(days=10)).isoformat()
    clinic.reschedule(follow_up["id"], later)
    with pytest.raises(FieldkitError, match="already past"):
        clinic.reschedule(follow_up["id"], (date.today() - timedelta(days=1)).isoformat())
    assert clinic.patient(survivor)["followups"][0]["due"] == later
    clinic.set_followup_status(follow_up["id"], "done")
    with pytest.raises(FieldkitError, match="only an open follow-up"):
        clinic.reschedule(follow_up["id"], later)
    [referral] = clinic.patient(survivor)["referrals"]
    clinic.run(referral_services.record_event, referral["id"], {"type": "arrived"})
    assert clinic.patient(survivor)["referrals"][0]["status"] == "arrived"
