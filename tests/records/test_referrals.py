"""Referrals that close the loop (reference/clinical.md A's acceptance tests): the status is the fold
of the events through one transition table, on every laptop, whatever order the events arrive in."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldkit.errors import FieldkitError
from fieldkit.permissions import NotAllowed
from fieldkit.records import referral_lists, referral_services, services
from fieldkit.records.services import Clinic
from fieldkit.store.keystore import User
from fieldkit.store.lifecycle import EVENTS, TRANSITIONS, next_status

CLINICIAN = User("clin", "Hoa", "clinician")
SPECIALIST = User("spec", "Dr Karimi", "clinician")
SUPERVISOR = User("sup", "Amina", "supervisor")
CLERK = User("clerk", "Omar", "clerk")
VITALS = {"pulse": 118, "resp_rate": 26, "spo2": 91, "temperature_c": 38.9, "systolic_bp": 96}


def patient_with_encounter(store) -> str:
    clinic = Clinic(store, CLINICIAN)
    pid = clinic.register({"given_name": "Mehdi", "family_name": "Rahimi", "birth_date": "1974-05-02",
                           "allergies": ["penicillin"]}).patient_id
    clinic.record_encounter({"patient_id": pid, "vitals": VITALS, "diagnoses": [{"code": "J18.9", "text": "pneumonia"}],
                             "prescriptions": [{"drug": "amoxicillin", "dose": "1 g", "frequency": "tds"}],
                             "notes": "cough for 5 days, breathless since yesterday"})
    return pid


def refer(store, pid: str, **extra) -> str:
    return Clinic(store, CLINICIAN).run(referral_services.refer, {
        "patient_id": pid, "to_facility": "Benha University Hospital", "urgency": "urgent",
        "reason": "pneumonia not improving", "reason_code": "J18.9", **extra})


def event(store, referral_id: str, kind: str, user: User = CLINICIAN, **details):
    return Clinic(store, user).run(referral_services.record_event, referral_id, {"type": kind, **details})


def status(store, referral_id: str) -> str:
    return store.read(lambda conn: referral_lists.detail(conn, referral_id))["status"]


def test_a_referral_carries_its_request_and_a_snapshot_of_the_patient(store):
    store.set_meta({"facility": "EG-QAL-RHU1"})
    pid = patient_with_encounter(store)
    referral = store.read(lambda conn: referral_lists.detail(conn, refer(store, pid)))
    assert referral["to_facility"] == "EG-BNH-UH" and referral["to_name"] == "Benha University Hospital"
    assert referral["from_facility"] == "EG-QAL-RHU1" and referral["number"].startswith("EG-QAL-RHU1-")
    assert referral["status"] == "requested"
    assert referral["expected_by"] == (date.today() + timedelta(days=3)).isoformat()  # urgent: 3 days
    snap = referral["snapshot"]
    assert snap["vitals"]["spo2"] == 91 and snap["news2"]["total"] >= 5 and snap["allergies"] == ["penicillin"]
    assert snap["diagnoses"] == [{"code": "J18.9", "text": "pneumonia"}] and snap["medicines"] == ["amoxicillin 1 g tds"]
    assert "breathless" in snap["history"]


def test_an_unlisted_destination_is_kept_as_typed(store):
    pid = patient_with_encounter(store)
    referral = store.read(lambda conn: referral_lists.detail(conn, refer(store, pid, to_facility="Clinic over the border")))
    assert referral["to_facility"] == "Clinic over the border" and not referral["listed"]


def test_the_whole_loop_and_every_event_says_who_when_and_where(store):
    store.set_meta({"facility": "EG-QAL-RHU1"})
    pid = patient_with_encounter(store)
    rid = refer(store, pid)
    for kind in ("issued", "sent"):
        event(store, rid, kind)
    store.set_meta({"facility": "EG-BNH-UH"})  # the hospital's desk (one store here, two facilities)
    assert [r["id"] for r in store.read(lambda conn: referral_lists.to_us(conn, "EG-BNH-UH"))] == [rid]
    event(store, rid, "acknowledged", SPECIALIST)
    event(store, rid, "arrived", SPECIALIST)
    event(store, rid, "feedback", SPECIALIST, findings="lobar pneumonia on X-ray", diagnosis="J18.1",
          treatment="ceftriaxone 5 days", recommendations="amoxicillin 7 more days; review in a week",
          follow_up=(date.today() + timedelta(days=7)).isoformat())
    referral = store.read(lambda conn: referral_lists.detail(conn, rid))
    assert referral["status"] == "completed"
    assert [(e["type"], e["facility"], e["author_name"] or e["author"]) for e in referral["events"]] == [
        ("issued", "EG-QAL-RHU1", "clin"), ("sent", "EG-QAL-RHU1", "clin"), ("acknowledged", "EG-BNH-UH", "spec"),
        ("arrived", "EG-BNH-UH", "spec"), ("feedback", "EG-BNH-UH", "spec")]
    assert all(e["at"] and e["applied"] for e in referral["events"])
    # Feedback books the follow-up at the referring unit: the tracker's "feedback to act on".
    [feedback] = store.read(lambda conn: referral_lists.tracker(conn, date.today()))["feedback"]
    assert feedback["referral_id"] == rid and "amoxicillin 7 more days" in feedback["advice"]
    assert Clinic(store, CLINICIAN).patient(pid)["followups"][0]["referral_id"] == rid


@pytest.mark.parametrize(("done", "illegal"), [
    ((), "feedback"),  # feedback before it was sent or issued
    (("sent", "arrived", "completed"), "sent"),  # completed is final
    (("sent", "arrived", "completed"), "cancelled"),
    (("cancelled",), "arrived"),
    ((), "acknowledged"),
])
def test_illegal_transitions_are_refused_with_one_line_and_change_nothing(store, done, illegal):
    rid = refer(store, patient_with_encounter(store))
    for kind in done:
        event(store, rid, kind)
    before = store.version_vector()
    details = {"findings": "x"} if illegal == "feedback" else {}
    with pytest.raises(FieldkitError, match="cannot be marked") as refused:
        event(store, rid, illegal, **details)
    assert "\n" not in str(refused.value)
    assert store.version_vector() == before


def test_not_attended_needs_a_listed_reason_and_other_needs_a_note(store):
    rid = refer(store, patient_with_encounter(store))
    event(store, rid, "sent")
    with pytest.raises(FieldkitError, match="why was it not attended"):
        event(store, rid, "not_attended", reason="weather")
    with pytest.raises(FieldkitError, match="needs a note"):
        event(store, rid, "not_attended", reason="other")
    event(store, rid, "not_attended", reason="transport")
    assert status(store, rid) == "not_attended"


def test_overdue_after_one_fold_sorted_by_urgency_then_days_overdue(store, monkeypatch):
    pid = patient_with_encounter(store)
    routine, urgent, emergency, arrived = (refer(store, pid, urgency=u) for u in ("routine", "urgent", "emergency", "emergency"))
    for rid in (routine, urgent, emergency, arrived):
        event(store, rid, "sent")
    event(store, arrived, "arrived")
    lists = store.read(lambda conn: referral_lists.tracker(conn, date.today() + timedelta(days=2)))
    assert [r["id"] for r in lists["overdue"]] == [emergency]  # emergency expected in 1 day; arrived ones never
    later = store.read(lambda conn: referral_lists.tracker(conn, date.today() + timedelta(days=20)))
    assert [(r["id"], r["days_overdue"]) for r in later["overdue"]] == [(emergency, 19), (urgent, 17), (routine, 6)]


def test_the_board_gate(store):
    pid = patient_with_encounter(store)
    rid = refer(store, pid, to_facility="TN-SAI", needs_approval=True, kind="referral")
    assert status(store, rid) == "awaiting_approval"
    assert [r["id"] for r in store.read(lambda conn: referral_lists.tracker(conn, date.today()))["awaiting_board"]] == [rid]
    with pytest.raises(FieldkitError, match="cannot be marked"):
        event(store, rid, "issued")
    with pytest.raises(FieldkitError, match="needs its reference"):
        event(store, rid, "approved", SUPERVISOR)
    with pytest.raises(NotAllowed):
        event(store, rid, "approved", CLINICIAN, board_reference="NCB-2026-0118")
    event(store, rid, "approved", SUPERVISOR, board_reference="NCB-2026-0118")
    event(store, rid, "issued")
    assert status(store, rid) == "issued"


def test_an_econsultation_answered_come_in_person_starts_the_referral_it_advises(store):
    pid = patient_with_encounter(store)
    rid = refer(store, pid, kind="econsult", to_service="cardiology")
    event(store, rid, "sent")
    started = event(store, rid, "feedback", SPECIALIST, findings="ECG shows new LBBB", recommendations="come in person",
                    travel=True)
    assert status(store, rid) == "completed"
    follow_on = store.read(lambda conn: referral_lists.detail(conn, started))
    assert follow_on["follows"] == rid and follow_on["kind"] == "referral" and follow_on["status"] == "requested"
    assert follow_on["snapshot"]["vitals"]["spo2"] == 91  # what the specialist reviewed travels with it


def test_arrived_and_cancelled_on_two_laptops_converge_to_one_status_and_one_conflict(make_store):
    origin, hospital = make_store(device=1), make_store(device=2)
    rid = refer(origin, patient_with_encounter(origin))
    event(origin, rid, "sent")
    hospital.ingest(origin.entries_after({}, 10**6))
    event(hospital, rid, "arrived", SPECIALIST)
    event(origin, rid, "cancelled")  # neither has seen the other's
    origin.ingest(hospital.entries_after(origin.version_vector(), 10**6))
    hospital.ingest(origin.entries_after(hospital.version_vector(), 10**6))
    assert origin.state_hash() == hospital.state_hash()
    for laptop in (origin, hospital):
        referral = laptop.read(lambda conn: referral_lists.detail(conn, rid))
        assert sorted(e["type"] for e in referral["events"]) == ["arrived", "cancelled", "sent"]
        [conflict] = referral["conflicts"]
        assert sorted(side["value"] for side in conflict["candidates"]) == ["arrived", "cancelled"]
    # The supervisor settles it; both events stay in the record.
    [conflict] = origin.read(lambda conn: referral_lists.detail(conn, rid))["conflicts"]
    chosen = next(side["event"] for side in conflict["candidates"] if side["value"] == "arrived")
    Clinic(origin, SUPERVISOR).run(referral_services.resolve, conflict["id"], chosen, "the hospital saw her")
    referral = origin.read(lambda conn: referral_lists.detail(conn, rid))
    assert referral["status"] == "arrived" and referral["conflicts"] == [] and len(referral["events"]) == 4
    with pytest.raises(NotAllowed):
        Clinic(origin, CLINICIAN).run(referral_services.resolve, conflict["id"], chosen, "x")


def test_a_progress_event_behind_a_later_one_is_no_conflict(make_store):
    origin, hospital = make_store(device=1), make_store(device=2)
    rid = refer(origin, patient_with_encounter(origin))
    hospital.ingest(origin.entries_after({}, 10**6))
    event(hospital, rid, "arrived", SPECIALIST)  # the patient walked in before the unit marked it sent
    event(origin, rid, "sent")
    origin.ingest(hospital.entries_after(origin.version_vector(), 10**6))
    referral = origin.read(lambda conn: referral_lists.detail(conn, rid))
    assert referral["status"] == "arrived" and referral["conflicts"] == []


def test_status_writes_of_fieldkit_0_1_read_as_events(store):
    """A referral moved by the old status field (before events) keeps its status."""
    rid = refer(store, patient_with_encounter(store))
    store.write(lambda tx: tx.append([services._update(tx, "referral", rid, {"status": "sent"})], user="clin"))
    assert status(store, rid) == "sent"
    store.rebuild()
    assert status(store, rid) == "sent"


# A laptop's possible actions on one referral: an event of any type, or a sync with the other laptop.
ACTIONS = st.lists(st.tuples(st.sampled_from([0, 1]), st.sampled_from((*EVENTS, "sync"))), max_size=14)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=ACTIONS, data=st.data())
def test_any_history_on_two_laptops_converges_and_every_event_survives(make_store, actions, data):
    laptops = make_store(), make_store()
    rid = refer(laptops[0], patient_with_encounter(laptops[0]))
    laptops[1].ingest(laptops[0].entries_after({}, 10**6))
    written = 0
    for who, kind in actions:
        here, there = laptops[who], laptops[1 - who]
        if kind == "sync":
            there.ingest(here.entries_after(there.version_vector(), 10**6))
            continue
        current = status(here, rid)
        details = {"board_reference": "B-1"} if kind in ("approved", "declined") else {}
        details |= {"findings": "seen"} if kind == "feedback" else {}
        details |= {"reason": "cost"} if kind == "not_attended" else {}
        details |= {"redirected_to": "SY-HMS-NH"} if kind == "redirected" else {}
        if next_status(current, kind) is None:
            with pytest.raises(FieldkitError):
                event(here, rid, kind, SUPERVISOR, **details)
        else:
            event(here, rid, kind, SUPERVISOR, **details)
            written += 1
    # Delivered in either order, to a third laptop as well: the same tables everywhere.
    a, b = laptops
    a.ingest(b.entries_after(a.version_vector(), 10**6))
    b.ingest(a.entries_after(b.version_vector(), 10**6))
    third = make_store()
    for entry in data.draw(st.permutations(a.entries_after({}, 10**6)), label="order"):
        third.ingest([entry]) if entry.seq == 1 or third.version_vector().get(entry.origin, 0) == entry.seq - 1 else None
    third.ingest(a.entries_after(third.version_vector(), 10**6))
    assert a.state_hash() == b.state_hash() == third.state_hash()
    referral = a.read(lambda conn: referral_lists.detail(conn, rid))
    assert len(referral["events"]) == written
    assert referral["status"] in {to for moves in TRANSITIONS.values() for to in moves.values()} | {"requested"}
