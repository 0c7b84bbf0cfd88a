"""One patient's International Patient Summary (reference/clinical.md E, acceptance test 5): a
document whose Composition (LOINC 60591-5) comes first, whose six sections list resources held in
the bundle or say why they are empty, validated and bound like every export; and what it refuses."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest
from fhir_clinic import SUPERVISOR, build
from fhir_models import code_elements, model_field

from fieldkit.errors import FieldkitError
from fieldkit.export import fhir_bindings, fhir_bundle, ips
from fieldkit.export import fhir_codes as c
from fieldkit.export.fhir_read import load
from fieldkit.records import referral_services
from fieldkit.records.services import Clinic
from fieldkit.store.db import Change
from fieldkit.store.fold import field_versions

SECTIONS = ["11450-4", "10160-0", "48765-2", "11369-6", "30954-2", "8716-3"]  # problems ... vital signs
NOW = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    built = build(tmp_path_factory.mktemp("ips") / "clinic.db")
    yield built
    built.store.close()


def summary(store, patient_id: str, **options) -> dict:
    return store.read(lambda conn: ips.summary(conn, patient_id, device_id=store.device_id, now=NOW, **options))


def composition(bundle: dict) -> dict:
    return bundle["entry"][0]["resource"]


def sections(bundle: dict) -> dict[str, dict]:
    return {s["code"]["coding"][0]["code"]: s for s in composition(bundle)["section"]}


def held(bundle: dict, section: dict) -> list[dict]:
    """The resources a section's entries name, found in the bundle."""
    by_reference = {f"{e['resource']['resourceType']}/{e['resource']['id']}": e["resource"] for e in bundle["entry"]}
    return [by_reference[item["reference"]] for item in section.get("entry", ())]


def empty_reason(section: dict) -> str | None:
    return section.get("emptyReason", {}).get("coding", [{}])[0].get("code")


def test_the_composition_comes_first_and_empty_sections_say_why(clinic):
    bundle = summary(clinic.store, clinic.ids["hong"])
    assert bundle["type"] == "document" and bundle["timestamp"] == "2026-05-04T09:30:00Z"
    assert bundle["identifier"]["system"] == c.id_system("patient-summary") and bundle["identifier"]["value"]
    first = composition(bundle)
    assert first["resourceType"] == "Composition" and first["status"] == "final"
    assert first["type"]["coding"] == [{"system": c.LOINC, "code": "60591-5", "display": "Patient summary Document"}]
    assert first["identifier"] == bundle["identifier"] and first["date"] == bundle["timestamp"]
    assert first["subject"] == {"reference": f"Patient/{clinic.ids['hong'].lower()}"}
    [author] = first["author"]
    device = next(e["resource"] for e in bundle["entry"] if f"Device/{e['resource']['id']}" == author["reference"])
    assert device["identifier"][0]["value"] == clinic.store.device_id
    assert [s["code"]["coding"][0]["code"] for s in first["section"]] == SECTIONS
    for section in first["section"]:
        assert section["title"] and section["text"]["div"].startswith('<div xmlns="http://www.w3.org/1999/xhtml">')
        assert ("entry" in section) != ("emptyReason" in section)  # one or the other (cmp-2, ips-comp-1)
    found = sections(bundle)
    assert empty_reason(found["48765-2"]) == "unavailable"  # nobody recorded allergies: claimed neither way
    kinds = {code: {r["resourceType"] for r in held(bundle, section)} for code, section in found.items()}
    assert kinds == {"11450-4": {"Condition"}, "10160-0": {"MedicationRequest"}, "48765-2": set(),
                     "11369-6": {"Immunization"}, "30954-2": {"Observation"}, "8716-3": {"Observation"}}
    fhir_bundle.check_bundle(load(fhir_bundle.dumps(bundle)))  # as written: models, bindings, references


def test_a_patient_with_nothing_recorded_has_every_section_empty_and_unavailable(make_store):
    store = make_store()
    pid = Clinic(store, SUPERVISOR).register({"given_name": "Nour", "sex": "male"}).patient_id
    bundle = summary(store, pid)
    assert [e["resource"]["resourceType"] for e in bundle["entry"]] == ["Composition", "Patient", "Device"]
    for section in composition(bundle)["section"]:
        assert "entry" not in section and section["emptyReason"]["coding"] == [
            {"system": c.LIST_EMPTY_REASON, "code": "unavailable", "display": "Unavailable"}]
        assert "Nothing recorded" in section["text"]["div"]


def test_what_was_entered_in_error_is_left_out_and_the_rest_reads_in_the_narrative(clinic):
    bundle = summary(clinic.store, clinic.ids["hong"])
    found = sections(bundle)
    statuses = {r["status"] for r in held(bundle, found["11369-6"])}
    assert "entered-in-error" not in statuses and statuses == {"completed", "not-done"}
    assert len(held(bundle, found["11369-6"])) == 3  # the dose recorded twice is gone
    assert "pneumonia (J18.9)" in found["11450-4"]["text"]["div"] and "amoxicillin" in found["10160-0"]["text"]["div"]
    assert "12.0 m[IU]/mL" in found["30954-2"]["text"]["div"]  # the corrected value, as the lab gave it
    salem = summary(clinic.store, clinic.ids["salem"])  # whose one encounter was entered in error
    assert empty_reason(sections(salem)["11450-4"]) == "unavailable"
    assert empty_reason(sections(salem)["8716-3"]) == "unavailable"
    patients = [e["resource"]["id"] for e in salem["entry"] if e["resource"]["resourceType"] == "Patient"]
    assert patients == [clinic.ids["salem"].lower(), clinic.ids["duplicate"].lower()]  # and the record merged in


def test_vital_signs_are_the_latest_reading_of_each(make_store):
    store = make_store()
    clinic = Clinic(store, SUPERVISOR)
    pid = clinic.register({"given_name": "Mai", "sex": "female"}).patient_id
    clinic.record_encounter({"patient_id": pid, "vitals": {"pulse": 80, "temperature_c": 37.0}})
    clinic.record_encounter({"patient_id": pid, "vitals": {"pulse": 104}})
    bundle = summary(store, pid)
    vitals = {r["code"]["coding"][0]["code"]: r["valueQuantity"]["value"] for r in held(bundle, sections(bundle)["8716-3"])}
    assert vitals == {"8867-4": 104, "8310-5": 37}
    assert len([e for e in bundle["entry"] if e["resource"]["resourceType"] == "Encounter"]) == 2  # each one pointed at


def test_allergies_recorded_none_known_and_disputed(make_store):
    here, there = make_store(), make_store()
    clinic = Clinic(here, SUPERVISOR)
    listed = clinic.register({"given_name": "Lan", "sex": "female", "allergies": ["penicillin", "sulfa"]}).patient_id
    allergies = held(bundle := summary(here, listed), sections(bundle)["48765-2"])
    assert [(a["code"]["text"], a["clinicalStatus"]["coding"][0]["code"], "verificationStatus" in a)
            for a in allergies] == [("penicillin", "active", False), ("sulfa", "active", False)]
    assert "penicillin" in sections(bundle)["48765-2"]["text"]["div"]

    said = clinic.register({"given_name": "Hoa", "sex": "female", "allergies": ["None known"]}).patient_id
    assert empty_reason(sections(summary(here, said))["48765-2"]) == "nilknown"
    ticked = clinic.register({"given_name": "Minh", "sex": "male"}).patient_id
    assert empty_reason(sections(summary(here, ticked))["48765-2"]) == "unavailable"
    clinic.run(referral_services.refer, {"patient_id": ticked, "to_facility": "EG-BNH-UH", "reason": "x",
                                         "no_known_allergies": True})
    nil = sections(summary(here, ticked))["48765-2"]
    assert empty_reason(nil) == "nilknown" and "No known allergies" in nil["text"]["div"]

    # Two laptops change the allergies from the same version, differently: both values are shown.
    there.ingest(here.entries_after({}, 10**6))
    base = here.read(lambda conn: field_versions(conn, listed))["allergies"]
    there.append([Change("patient", listed, "update", {"fields": {"allergies": ["latex"]}, "base": {"allergies": base}})],
                 user=SUPERVISOR.id)
    here.append([Change("patient", listed, "update", {"fields": {"allergies": ["aspirin"]}, "base": {"allergies": base}})],
                user=SUPERVISOR.id)
    here.ingest(there.entries_after(here.version_vector(), 10**6))
    disputed = held(bundle := summary(here, listed), sections(bundle)["48765-2"])
    assert sorted(a["code"]["text"] for a in disputed) == ["aspirin", "latex"]
    assert {a["verificationStatus"]["coding"][0]["code"] for a in disputed} == {"unconfirmed"}
    assert "(unconfirmed)" in sections(bundle)["48765-2"]["text"]["div"]


def test_a_merged_voided_or_unknown_record_has_no_summary_of_its_own(clinic):
    with pytest.raises(FieldkitError, match=f"was merged into {clinic.ids['salem']}"):
        summary(clinic.store, clinic.ids["duplicate"])
    with pytest.raises(FieldkitError, match="is voided"):
        summary(clinic.store, clinic.ids["voided"])
    with pytest.raises(FieldkitError, match="no patient with id NOPE"):
        summary(clinic.store, "NOPE")


# -- what the document's checks catch ---------------------------------------------------------------

@pytest.mark.parametrize(("break_it", "problem"), [
    (lambda b: b["entry"].insert(0, b["entry"].pop(1)), "first entry must be its Composition"),
    (lambda b: b.pop("identifier"), "Bundle identifier: a document needs one"),
    (lambda b: b.pop("timestamp"), "Bundle timestamp: a document needs one"),
    (lambda b: b["entry"].pop(), "is not in the bundle"),  # an encounter a diagnosis names
    (lambda b: b["entry"][0]["resource"]["section"][0]["entry"].append({"reference": "Condition/none"}),
     "is not in the bundle"),
    (lambda b: b["entry"][0]["resource"]["section"][2]["emptyReason"]["coding"][0].update(code="none"),
     r"section.emptyReason.coding: “none” is not one of its codes"),
    (lambda b: b["entry"][0]["resource"]["type"]["coding"][0].update(code="34133-9"), "type.coding"),
    (lambda b: b["entry"][0]["resource"]["section"][0]["entry"].append({"reference": "Patient/x"}), "must point at"),
])
def test_a_broken_document_is_refused(clinic, break_it, problem):
    bundle = copy.deepcopy(summary(clinic.store, clinic.ids["hong"], validate=False))
    break_it(bundle)
    with pytest.raises(FieldkitError, match=problem):
        fhir_bundle.check_bundle(bundle, validate=False)


def test_every_code_element_of_the_summary_has_a_binding(clinic):
    bundle = summary(clinic.store, clinic.ids["hong"])
    seen = set()
    for item in bundle["entry"]:
        resource = item["resource"]
        model = fhir_bundle._model(resource["resourceType"]).model_validate(resource)
        found = {path for path in code_elements(model) if not path.endswith(".code")}
        assert found <= set(fhir_bindings.BINDINGS[resource["resourceType"]]), (resource["resourceType"], found)
        seen |= found
    assert {"status", "section.text.status", "deviceName.type"} <= seen
    for kind in fhir_bindings.DOCUMENT_ONLY:
        for path, targets in fhir_bindings.REFERENCES.get(kind, {}).items():
            allowed = set(model_field(fhir_bundle._model(kind), path.split(".")).json_schema_extra["enum_reference_types"])
            assert "Resource" in allowed or targets <= allowed, (kind, path)


def test_a_summary_is_made_at_its_own_moment(clinic):
    later = NOW + timedelta(hours=1)
    first = summary(clinic.store, clinic.ids["hong"])
    second = clinic.store.read(lambda conn: ips.summary(conn, clinic.ids["hong"], device_id="d" * 32, now=later))
    assert first["identifier"]["value"] != second["identifier"]["value"]  # two documents, never one id twice
    assert second["timestamp"] == "2026-05-04T10:30:00Z"
    assert [e["fullUrl"] for e in first["entry"][3:]] == [e["fullUrl"] for e in second["entry"][3:]]
