"""The FHIR R4 export on a real store built through the services (reference/clinical.md E): every
resource validates against its R4B model and passes the binding table and the bundle's checks, the
checks catch what fhir.resources lets by, and two exports of the same data are the same entries."""

from __future__ import annotations

import copy
import typing
from collections import Counter
from datetime import date, timedelta

import orjson
import pytest
from fhir_clinic import SUPERVISOR, TODAY, build
from fhir_models import code_elements, model_field
from hypothesis import given
from hypothesis import strategies as st

from fieldkit.errors import FieldkitError
from fieldkit.export import fhir, fhir_bindings, fhir_bundle
from fieldkit.export import fhir_codes as c
from fieldkit.export.fhir_read import load
from fieldkit.records import enrolments, immunizations, labs, referral_services
from fieldkit.records.models import MEASURES, EncounterKind, Vitals
from fieldkit.records.services import Clinic
from fieldkit.store import fold
from fieldkit.store.db import Change
from fieldkit.store.lifecycle import STATUSES


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    built = build(tmp_path_factory.mktemp("fhir") / "clinic.db")
    yield built
    built.store.close()


def export(store, **options) -> bytes:
    return store.read(lambda conn: b"".join(fhir.stream(conn, **options)))


def entries(data: bytes) -> list[dict]:
    return load(data).get("entry", [])


def by_id(data: bytes, kind: str) -> dict[str, dict]:
    return {e["resource"]["id"]: e["resource"] for e in entries(data) if e["resource"]["resourceType"] == kind}


@pytest.fixture(scope="module")
def collection(clinic) -> bytes:
    return export(clinic.store)


def test_every_resource_type_is_emitted_valid_bound_and_resolved(clinic, collection):
    counts: Counter[str] = Counter()
    transaction = export(clinic.store, kind="transaction", counts=counts)
    assert set(counts) == fhir_bindings.TYPES  # every type the export knows, each one checked on the way out
    for data, kind in ((collection, "collection"), (transaction, "transaction")):
        bundle = load(data)
        assert bundle["type"] == kind
        fhir_bundle.check_bundle(bundle)  # models, bindings, references, fullUrls, requests: all again
        for item in bundle["entry"]:
            assert ("request" in item) == (kind == "transaction")
    item = next(e for e in entries(transaction) if e["resource"]["resourceType"] == "Patient")
    assert item["request"] == {"method": "PUT", "url": f"Patient/{item['resource']['id']}"}


def test_ids_are_fieldkits_own_lowercased_or_derived_and_carry_no_phi(clinic, collection):
    for item in entries(collection):
        resource = item["resource"]
        assert fhir_bindings.ID.fullmatch(resource["id"]) and resource["id"] == resource["id"].lower()
        assert item["fullUrl"] == f"https://fieldkit.example/fhir/{resource['resourceType']}/{resource['id']}"
        assert not {"nguyễn", "hồng", "0912345678", "079123456789"} & set(resource["id"].split("-"))
    patients = by_id(collection, "Patient")
    assert clinic.ids["hong"].lower() in patients


def test_patient_identifiers_names_partial_birth_date_links_and_voiding(clinic, collection):
    patients = by_id(collection, "Patient")
    hong = patients[clinic.ids["hong"].lower()]
    assert hong["identifier"][0] == {"system": c.PATIENT_SYSTEM, "value": clinic.ids["hong"]}
    assert {"system": "https://fieldkit.example/id/national", "value": "079123456789"} in hong["identifier"]
    assert hong["name"] == [{"text": "Nguyễn Thị Hồng", "family": "Nguyễn", "given": ["Hồng", "Thị"]}]
    assert hong["birthDate"] == "1961" and hong["gender"] == "female" and hong["active"] is True  # estimated: the year
    salem = patients[clinic.ids["salem"].lower()]
    assert salem["birthDate"] == "1980-05-02"
    assert salem["link"] == [{"other": {"reference": f"Patient/{clinic.ids['duplicate'].lower()}"}, "type": "replaces"}]
    duplicate = patients[clinic.ids["duplicate"].lower()]
    assert duplicate["active"] is False
    assert duplicate["link"] == [{"other": {"reference": f"Patient/{clinic.ids['salem'].lower()}"}, "type": "replaced-by"}]
    assert patients[clinic.ids["voided"].lower()]["active"] is False


def test_an_encounter_its_vital_signs_news2_diagnoses_and_prescriptions(clinic, collection):
    eid = clinic.ids["encounter"].lower()
    encounter = by_id(collection, "Encounter")[eid]
    assert encounter["class"]["code"] == "VR" and encounter["status"] == "finished"  # tele-triage: virtual
    observations = [o for o in by_id(collection, "Observation").values() if o.get("encounter") == {"reference": f"Encounter/{eid}"}]
    codes = {o["code"]["coding"][0]["code"]: o for o in observations}
    assert codes["8867-4"]["valueQuantity"] == {"value": 118, "unit": "/min", "system": c.UCUM, "code": "/min"}
    assert codes["8310-5"]["valueQuantity"]["code"] == "Cel" and codes["29463-7"]["valueQuantity"]["value"] == 52.5
    assert [coding["code"] for coding in codes["2708-6"]["code"]["coding"]] == ["2708-6", "59408-5"]
    assert codes["15074-8"]["valueQuantity"]["code"] == "mmol/L"  # as the meter showed it, never converted
    panel = codes["85354-9"]
    assert panel["category"][0]["coding"][0]["code"] == "vital-signs" and "valueQuantity" not in panel
    systolic, diastolic = panel["component"]
    assert systolic["code"]["coding"][0]["code"] == "8480-6" and systolic["valueQuantity"]["value"] == 96
    assert diastolic["code"]["coding"][0]["code"] == "8462-4" and diastolic["dataAbsentReason"]["coding"][0]["code"] \
        == "not-performed"
    news2 = codes["news2"]
    assert news2["valueInteger"] == 11 and news2["category"][0]["coding"][0]["code"] == "survey"
    vitals = {f"Observation/{o['id']}" for o in observations if o is not news2}
    assert {ref["reference"] for ref in news2["derivedFrom"]} == vitals
    conditions = [r for r in by_id(collection, "Condition").values() if r["encounter"]["reference"] == f"Encounter/{eid}"]
    assert {(tuple(cd.get("coding", [{}])[0].get("code", "") for cd in [r["code"]]), r["code"].get("text")) for r in conditions} \
        == {(("J18.9",), "pneumonia"), (("",), "dehydration")}
    assert all(r["code"].get("coding", [{"system": c.ICD10}])[0]["system"] == c.ICD10 for r in conditions)
    prescriptions = [r for r in by_id(collection, "MedicationRequest").values()
                     if r["encounter"]["reference"] == f"Encounter/{eid}"]
    amoxicillin = next(r for r in prescriptions if r["medicationCodeableConcept"]["text"] == "amoxicillin")
    assert amoxicillin["intent"] == "order" and amoxicillin["dosageInstruction"][0]["text"] == "1 g oral tds"
    assert amoxicillin["dosageInstruction"][0]["timing"]["repeat"]["boundsDuration"]["value"] == 5
    assert "dosageInstruction" not in next(r for r in prescriptions if r["medicationCodeableConcept"]["text"] == "ORS")


def test_an_encounter_entered_in_error_takes_what_was_recorded_at_it_along(clinic, collection):
    eid = clinic.ids["in_error"].lower()
    assert by_id(collection, "Encounter")[eid]["status"] == "entered-in-error"
    linked = [r for kind in ("Observation", "Condition", "MedicationRequest") for r in by_id(collection, kind).values()
              if r.get("encounter") == {"reference": f"Encounter/{eid}"}]
    assert len(linked) == 4  # BP panel, MUAC, the diagnosis, the prescription
    for resource in linked:
        if resource["resourceType"] == "Condition":
            assert resource["verificationStatus"]["coding"][0]["code"] == "entered-in-error" and "clinicalStatus" not in resource
        else:
            assert resource["status"] == "entered-in-error"
    muac = next(r for r in linked if r.get("code", {}).get("coding", [{}])[0].get("code") == "56072-2")
    assert muac["category"][0]["coding"][0]["code"] == "exam" and muac["valueQuantity"]["code"] == "mm"


@pytest.mark.parametrize("status", STATUSES)
def test_every_referral_status_has_a_task_status_and_a_request_status(status):
    assert c.REFERRAL_TASK_STATUS[status] in fhir_bindings.BINDINGS["Task"]["status"].values
    assert c.REFERRAL_REQUEST_STATUS[status] in fhir_bindings.BINDINGS["ServiceRequest"]["status"].values


def test_the_other_status_maps_are_total_over_fieldkits_statuses():
    assert set(c.ENROLMENT_STATUS) == set(enrolments.MOVES) | {s for moves in enrolments.MOVES.values() for s in moves}
    assert set(c.IMMUNIZATION_STATUS) == {immunizations.GIVEN, immunizations.NOT_GIVEN, immunizations.HISTORICAL,
                                         immunizations.ENTERED_IN_ERROR}
    assert set(c.LAB_STATUSES) == set(labs.STATUSES)
    assert set(c.ENCOUNTER_CLASS) == set(typing.get_args(EncounterKind))
    assert set(c.VITALS) | set(c.BP_PARTS) == set(MEASURES)  # every measure recorded has its Observation


def test_referrals_become_a_request_and_a_task_following_the_events(clinic, collection):
    tasks, requests = by_id(collection, "Task"), by_id(collection, "ServiceRequest")
    expected = {"requested": "requested", "sent": "requested", "completed": "completed", "not_attended": "failed"}
    for status, task_status in expected.items():
        rid = clinic.referrals[status].lower()
        task, request = tasks[rid], requests[rid]
        assert task["status"] == task_status and task["businessStatus"]["coding"][0]["code"] == status
        assert task["focus"] == {"reference": f"ServiceRequest/{rid}"} and request["intent"] == "order"
        assert request["performer"][0]["identifier"]["value"] == "EG-BNH-UH"
        assert request["encounter"] == {"reference": f"Encounter/{clinic.ids['encounter'].lower()}"}
    assert requests[clinic.referrals["sent"].lower()]["priority"] == "stat"  # an emergency
    assert tasks[clinic.referrals["not_attended"].lower()]["statusReason"]["coding"][0]["code"] == "transport"
    assert requests[clinic.referrals["completed"].lower()]["status"] == "completed"


def test_an_enrolment_is_an_episode_on_hold_while_in_hospital(clinic, collection):
    episode = by_id(collection, "EpisodeOfCare")[clinic.ids["enrolment"].lower()]
    assert episode["status"] == "onhold" and episode["statusHistory"] == [
        {"status": "onhold", "period": {"start": TODAY.isoformat()}}]
    assert episode["type"][0]["coding"][0]["code"] == "home-triage"


def test_lab_results_keep_the_reported_decimal_and_their_ucum_unit(clinic, collection):
    assert b'"value":4.50,' in collection  # "4.50" as reported, never the float 4.5
    observations = by_id(collection, "Observation")
    anti_hbs = observations[clinic.ids["anti_hbs"].lower()]
    assert anti_hbs["category"][0]["coding"][0]["code"] == "laboratory"
    assert anti_hbs["valueQuantity"]["code"] == "m[IU]/mL" and anti_hbs["interpretation"][0]["coding"][0]["code"] == "L"
    assert anti_hbs["referenceRange"] == [{"low": {"value": 10, "unit": "m[IU]/mL", "system": c.UCUM, "code": "m[IU]/mL"}}]
    hbsag = observations[clinic.ids["hbsag"].lower()]
    assert hbsag["valueCodeableConcept"]["coding"][0] == {"system": c.LOINC, "code": "LA6577-6", "display": "Negative"}
    assert observations[clinic.ids["corrected"].lower()]["status"] == "corrected"


def test_immunizations_partial_dates_not_given_and_entered_in_error(clinic, collection):
    found = by_id(collection, "Immunization")
    dose = found[clinic.ids["dose1"].lower()]
    assert dose["status"] == "completed" and dose["primarySource"] is True and dose["lotNumber"] == "HB-1"
    assert [coding["system"] for coding in dose["vaccineCode"]["coding"]] == [c.ICD11, c.ATC, c.VACCINE]
    assert dose["route"]["coding"][0]["code"] == "IM" and dose["site"]["coding"][0]["code"] == "LA"
    assert dose["protocolApplied"][0]["doseNumberPositiveInt"] == 1
    assert found[clinic.ids["historical"].lower()]["occurrenceDateTime"] == "2019"  # a year is a FHIR dateTime
    assert found[clinic.ids["historical_month"].lower()]["occurrenceDateTime"] == "2019-08"
    assert found[clinic.ids["historical"].lower()]["primarySource"] is False
    refused = found[clinic.ids["not_given"].lower()]  # later given: kept as history of the dose missed that day
    assert refused["status"] == "not-done" and {"system": c.ACT_REASON, "code": "PATOBJ"} in refused["statusReason"]["coding"]
    missing = found[clinic.ids["out_of_stock"].lower()]
    assert missing["status"] == "not-done" and missing["statusReason"]["text"] == "out-of-stock"
    assert missing["statusReason"]["coding"][0] == {"system": c.ACT_REASON, "code": "OSTOCK"}
    assert found[clinic.ids["dose_error"].lower()]["status"] == "entered-in-error"


def test_a_recommendation_names_the_next_dose_with_its_dates(clinic, collection):
    [recommendation] = [r for r in by_id(collection, "ImmunizationRecommendation").values()
                        if r["patient"]["reference"] == f"Patient/{clinic.ids['salem'].lower()}"]
    [hepb] = recommendation["recommendation"]
    assert hepb["doseNumberPositiveInt"] == 3 and hepb["forecastStatus"]["coding"][0]["code"] in ("due", "overdue")
    assert {d["code"]["coding"][0]["code"] for d in hepb["dateCriterion"]} == {"30980-7", "30981-5"}
    assert {s["reference"] for s in hepb["supportingImmunization"]} == {
        f"Immunization/{clinic.ids['dose1'].lower()}", f"Immunization/{clinic.ids['dose2'].lower()}"}


def test_a_safety_field_two_edits_dispute_leaves_with_no_single_value(make_store):
    store = make_store()
    clinic = Clinic(store, SUPERVISOR)
    pid = clinic.register({"given_name": "Mai", "sex": "female", "birth_date": "1990-02-03"}).patient_id
    base = store.read(lambda conn: fold.field_versions(conn, pid))
    # Two laptops changed the sex from the same version, differently: a supervisor decides.
    store.append([Change("patient", pid, "update", {"fields": {"sex": sex}, "base": {"sex": base["sex"]}})
                  for sex in ("male", "other")], user=SUPERVISOR.id)
    patient = by_id(export(store), "Patient")[pid.lower()]
    assert "gender" not in patient and patient["birthDate"] == "1990-02-03"


def forecasts(data: bytes, patient_id: str) -> dict[str, list[tuple[str, str, int]]]:
    """{schedule: [(series, forecast status, dose number)]} of one patient's recommendations."""
    return {r["identifier"][0]["value"].split("@")[0]: [
        (item["series"], item["forecastStatus"]["coding"][0]["code"], item["doseNumberPositiveInt"])
        for item in r["recommendation"]]
        for r in by_id(data, "ImmunizationRecommendation").values() if r["patient"]["reference"] == f"Patient/{patient_id.lower()}"}


def test_recommendations_follow_the_schedule_for_the_persons_age_and_an_immune_series(make_store):
    store = make_store()
    clinic = Clinic(store, SUPERVISOR)

    def ago(days: int) -> str:
        return (TODAY - timedelta(days=days)).isoformat()

    adult = clinic.register({"given_name": "Rana", "sex": "female", "birth_date": "1985-01-01"}).patient_id
    clinic.run(immunizations.historical, {"patient_id": adult, "vaccine": "bcg", "occurred": "1985"})
    for days in (200, 160, 60):
        clinic.run(immunizations.give, {"patient_id": adult, "vaccine": "hepb-adult", "occurred": ago(days), "lot": "HB-1"})
    clinic.run(labs.record, {"patient_id": adult, "test": "anti-hbs", "value": "12", "unit": "m[IU]/mL",
                             "collected": ago(20)})
    child = clinic.register({"given_name": "Nour", "sex": "male", "birth_date": ago(70)}).patient_id
    clinic.run(immunizations.give, {"patient_id": child, "vaccine": "bcg", "occurred": ago(69), "lot": "B-1"})
    data = export(store)
    # An adult's childhood BCG is history, not a reason to be called for infant doses.
    assert forecasts(data, adult) == {"hepb-staff": [("Hepatitis B", "immune", 3)]}
    child_forecasts = dict(((series, (status, number)) for series, status, number in forecasts(data, child)["childhood-epi"]))
    assert child_forecasts["BCG"] == ("complete", 1)
    assert child_forecasts["Pentavalent (DTP-HepB-Hib)"][0] in ("due", "overdue")  # 6 weeks old, and more
    fhir_bundle.check_bundle(load(data))


# -- what the checks catch ---------------------------------------------------------------------------

def resource_of(collection: bytes, kind: str) -> dict:
    return copy.deepcopy(next(e["resource"] for e in entries(collection) if e["resource"]["resourceType"] == kind))


@pytest.mark.parametrize(("kind", "change", "element"), [
    ("Task", lambda r: r.update(status="arrived"), "status"),  # a referral status, not a Task's
    ("Observation", lambda r: r.update(status="bogus"), "status"),
    ("Encounter", lambda r: r["class"].update(code="XYZ"), "class"),
    ("Patient", lambda r: r.update(gender="F"), "gender"),
    ("Immunization", lambda r: r.update(status="given"), "status"),
    ("EpisodeOfCare", lambda r: r.update(status="paused"), "status"),
    ("Observation", lambda r: r["category"][0]["coding"][0].update(system="http://example.org/x"), "category.coding"),
    ("Observation", lambda r: r["code"].update(coding=[]), "code.coding"),  # empty coding: []
    ("Observation", lambda r: r.update(subject={"reference": "Medication/x"}), "subject"),  # a wrong target type
    ("Patient", lambda r: r.update(id="x" * 65), "id"),
    ("Condition", lambda r: r.update(note=[{"text": ""}]), "note.text"),
    ("Observation", lambda r: r.update(valueQuantity={"value": 1, "unit": "mmHg"}), "valueQuantity"),
    ("Observation", lambda r: r.update(method={"coding": [{"system": c.LOINC, "code": "1-8"}]}), "method.coding"),
])
def test_what_fhir_resources_accepts_the_binding_check_refuses(collection, kind, change, element):
    resource = resource_of(collection, kind)
    change(resource)
    with pytest.raises(FieldkitError, match=rf"FHIR {kind}/\S+ {element}"):
        fhir_bindings.check(resource)


def test_a_deliberately_bad_status_also_stops_the_stream_before_the_bundle_closes(clinic, monkeypatch):
    real = fhir.episode_resource
    monkeypatch.setattr(fhir, "episode_resource", lambda row: {**real(row), "status": "paused"})
    chunks = []
    with pytest.raises(FieldkitError, match="EpisodeOfCare/.* status"):
        clinic.store.read(lambda conn: chunks.extend(fhir.stream(conn)))
    assert not b"".join(chunks).endswith(b"]}")


def test_a_dangling_reference_is_caught(collection):
    bundle = load(collection)
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "Encounter"]
    with pytest.raises(FieldkitError, match=r"reference: “Encounter/\S+” is not in the bundle"):
        fhir_bundle.check_bundle(bundle)


def test_a_duplicate_full_url_is_caught(collection):
    bundle = load(collection)
    bundle["entry"].append(copy.deepcopy(bundle["entry"][3]))
    with pytest.raises(FieldkitError, match="fullUrl: .* is in the bundle twice"):
        fhir_bundle.check_bundle(bundle)


def test_a_transaction_entry_without_a_request_is_caught_and_a_collection_entry_with_one(clinic, collection):
    transaction = load(export(clinic.store, kind="transaction"))
    del transaction["entry"][5]["request"]
    with pytest.raises(FieldkitError, match="request: a transaction entry needs a request"):
        fhir_bundle.check_bundle(transaction)
    bundle = load(collection)
    bundle["entry"][0]["request"] = {"method": "PUT", "url": "Patient/x"}
    with pytest.raises(FieldkitError, match="request: a collection entry has no request"):
        fhir_bundle.check_bundle(bundle)


def test_a_full_url_that_disagrees_with_the_id_or_is_not_absolute_is_caught(collection):
    for url in ("Patient/abc", "https://fieldkit.example/fhir/Patient/other"):
        bundle = load(collection)
        bundle["entry"][0]["fullUrl"] = url
        with pytest.raises(FieldkitError, match="fullUrl"):
            fhir_bundle.check_bundle(bundle)


def test_the_models_still_refuse_what_they_check(collection):
    resource = resource_of(collection, "Encounter")
    del resource["status"]
    with pytest.raises(FieldkitError, match="Encounter/.* status"):
        fhir_bundle.validate_model(resource)


# -- the binding table is complete ------------------------------------------------------------------

def test_every_code_element_emitted_has_a_binding_and_references_stay_within_fhirs_types(collection):
    seen = set()
    for item in entries(collection):
        resource = item["resource"]
        kind = resource["resourceType"]
        model = fhir_bundle._model(kind).model_validate(resource)
        # A Coding's code is held by the closed table of codings (`check` refuses an unbound one), a
        # Quantity's by the UCUM rule: what is left are the code elements of the resources themselves.
        found = {path for path in code_elements(model) if not path.endswith(".code")}
        assert found <= set(fhir_bindings.BINDINGS[kind]), (kind, found - set(fhir_bindings.BINDINGS[kind]))
        seen |= found
    assert {"status", "gender", "intent", "priority", "link.type", "telecom.system", "statusHistory.status"} <= seen
    for kind, paths in fhir_bindings.REFERENCES.items():
        for path, targets in paths.items():
            info = model_field(fhir_bundle._model(kind), path.split("."))
            allowed = set(info.json_schema_extra["enum_reference_types"])
            assert "Resource" in allowed or targets <= allowed, (kind, path)


# -- replay: the same data, the same entries ---------------------------------------------------------

def test_two_exports_are_the_same_entries_and_an_edit_changes_only_its_resource(tmp_path):
    built = build(tmp_path / "replay.db")
    with built.store:
        first = entries(export(built.store, kind="transaction"))
        again = entries(export(built.store, kind="transaction"))
        assert first == again  # same ids, same PUT urls, same content: a server that has the first keeps it all
        mark = built.store.read(fhir.next_since)
        Clinic(built.store, SUPERVISOR).edit(built.ids["hong"], {"locality": "Sóc Trăng"})
        edited = entries(export(built.store, kind="transaction"))
        changed = [b["fullUrl"] for a, b in zip(first, edited) if a != b]
        assert len(edited) == len(first) and changed == [f"{c.FHIR_BASE}/Patient/{built.ids['hong'].lower()}"]
        since = export(built.store, kind="transaction", since=mark)
        assert [e["fullUrl"] for e in entries(since)] == changed  # only what changed, nothing extra
        fhir_bundle.check_bundle(load(since), complete=False)
        assert not entries(export(built.store, kind="transaction", since=built.store.read(fhir.next_since)))


def test_an_export_since_a_version_carries_new_events_and_relaxes_only_to_known_types(tmp_path):
    built = build(tmp_path / "since.db")
    with built.store:
        mark = built.store.read(fhir.next_since)
        Clinic(built.store, SUPERVISOR).run(referral_services.record_event, built.referrals["requested"], {"type": "sent"})
        since = load(export(built.store, since=mark))
        kinds = sorted(e["resource"]["resourceType"] for e in since["entry"])
        assert kinds == ["ServiceRequest", "Task"]  # the referral whose event is new; its patient is held already
        with pytest.raises(FieldkitError, match="is not in the bundle"):
            fhir_bundle.check_bundle(since)  # complete: the patient is missing
        fhir_bundle.check_bundle(since, complete=False)
        since["entry"][0]["resource"]["subject"] = {"reference": "Patient/no_such-id!"}
        with pytest.raises(FieldkitError, match="is not in the bundle"):
            fhir_bundle.check_bundle(since, complete=False, validate=False)


def test_a_patients_export_holds_their_records_and_the_records_merged_with_them(clinic):
    for asked in ("salem", "duplicate"):  # the record that stays, or the one merged into it
        assert set(by_id(export(clinic.store, patient_ids=[clinic.ids[asked]]), "Patient")) == {
            clinic.ids["duplicate"].lower(), clinic.ids["salem"].lower()}
    data = export(clinic.store, patient_ids=[clinic.ids["duplicate"]])
    subjects = {r.get("subject", r.get("patient", r.get("for", {}))).get("reference") for e in entries(data)
                for r in [e["resource"]] if r["resourceType"] != "Patient"}
    assert subjects == {f"Patient/{clinic.ids['salem'].lower()}"}
    fhir_bundle.check_bundle(load(data))


def test_the_stream_hands_out_chunks_while_it_reads(clinic, monkeypatch):
    monkeypatch.setattr(fhir_bundle, "CHUNK", 2000)
    pulled = []
    real = fhir.resources_of

    def counted(*args, **kwargs):
        for resource in real(*args, **kwargs):
            pulled.append(resource["id"])
            yield resource

    monkeypatch.setattr(fhir, "resources_of", counted)

    def first_chunk(conn):
        stream = fhir.stream(conn)
        chunk = next(stream)
        return chunk, len(pulled), len(b"".join(stream))

    chunk, read_by_then, rest = clinic.store.read(first_chunk)
    assert chunk.startswith(b'{"resourceType":"Bundle","type":"collection"') and 0 < read_by_then < len(pulled)
    assert rest > 0


def test_an_empty_store_exports_a_bundle_with_no_entry_element(make_store):
    store = make_store()
    bundle = load(export(store))
    assert bundle["type"] == "collection" and "entry" not in bundle
    fhir_bundle.check_bundle(bundle)


def test_since_a_date_is_each_laptops_entries_from_its_first_stamped_then(clinic):
    """The approximate form: of each laptop, what its clock stamped at or after the moment."""
    vector = clinic.store.read(fhir.next_since)
    assert clinic.store.read(lambda conn: fhir.vector_at(conn, "2000-01-01T00:00+00:00")) == dict.fromkeys(vector, 0)
    assert clinic.store.read(lambda conn: fhir.vector_at(conn, "2999-01-01")) == vector
    with pytest.raises(FieldkitError, match="is not a date and time"):
        clinic.store.read(lambda conn: fhir.vector_at(conn, "last week"))


# -- properties --------------------------------------------------------------------------------------

def _reading(name: str):
    low, high = MEASURES[name].possible
    return st.none() | st.floats(low, high).map(lambda v: round(v, MEASURES[name].decimals or 1))


@given(st.fixed_dictionaries({name: _reading(name) for name in MEASURES if name != "diastolic_bp"}),
       st.sampled_from(typing.get_args(EncounterKind)), st.booleans())
def test_any_valid_vitals_export_as_valid_bound_observations(readings, kind, in_error):
    vitals = Vitals.model_validate(readings).to_fields()
    row = {"id": "01HZX8Y7V1S6J0R9QK3T4W5E2A", "patient_id": "01HZX8Y7V1S6J0R9QK3T4W5E2B", "recorded": 1_780_000_000_000,
           "kind": kind}
    resources = fhir.encounter_resources(row, {"vitals": vitals, "scores": {}}, in_error=in_error)
    assert len(resources) == 1 + len({name for name in vitals if name in c.VITALS}) + any(
        name in vitals for name in c.BP_PARTS)
    for resource in resources:
        fhir_bundle.validate_model(resource)
        fhir_bindings.check(resource)


@given(st.randoms(use_true_random=False))
def test_a_bundle_checks_whatever_order_its_entries_come_in(collection, random):
    bundle = load(collection)
    random.shuffle(bundle["entry"])
    fhir_bundle.check_bundle(bundle, validate=False)  # references forward or back both resolve
    referenced = {ref for e in bundle["entry"] for ref in fhir_bindings.references(e["resource"])}
    victim = random.choice(sorted(referenced))
    bundle["entry"] = [e for e in bundle["entry"] if not e["fullUrl"].endswith("/" + victim)]
    with pytest.raises(FieldkitError, match="is not in the bundle"):
        fhir_bundle.check_bundle(bundle, validate=False)


def test_decimals_reach_the_file_as_written():
    chunks = b"".join(fhir_bundle.write([{"resourceType": "Observation", "id": "a", "status": "final",
                                         "code": {"text": "x"}, "valueQuantity": {"value": fhir._decimal("4.50")}}],
                                        kind="collection"))
    assert b'"value":4.50' in chunks and orjson.loads(chunks)["entry"][0]["resource"]["valueQuantity"]["value"] == 4.5


def test_counts_are_by_resource_type(clinic):
    counts: Counter[str] = Counter()
    data = export(clinic.store, counts=counts)
    assert counts == Counter(e["resource"]["resourceType"] for e in entries(data))
    assert date.fromisoformat(load(data)["timestamp"][:10]) == date.today()
