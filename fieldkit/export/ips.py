"""One patient's International Patient Summary (HL7 IPS, reference/clinical.md E, ecosystem.md 2.5):
a `document` Bundle to hand to the patient or to the facility a patient moves to.

The Composition comes first (LOINC 60591-5), written by this laptop (a Device), with the six
sections fieldkit has something for, each a narrative and the entries it lists, or, when empty,
why (list-empty-reason): "nilknown" only where someone recorded that there is none (allergies:
"none known" on the record, or ticked on the patient's latest referral), "unavailable" for
nothing recorded, which claims nothing.

The resources are the FHIR export's own (fhir.py), of this patient and the records merged into
them, less what was entered in error: the diagnoses and prescriptions of their encounters, their
vaccinations and lab results, the latest reading of each vital sign, and the encounters these
point at. Allergies are the chart's (records.queries.every_allergy): those two edits dispute are
listed, unconfirmed, with each value either edit gave; an allergy is never left out because it is
disputed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from html import escape
from typing import Any

import orjson

import fieldkit
from fieldkit.errors import FieldkitError
from fieldkit.export import fhir, fhir_bundle
from fieldkit.export import fhir_codes as c
from fieldkit.i18n import N_, _, day
from fieldkit.records import queries
from fieldkit.records.referrals import NO_KNOWN_ALLERGIES
from fieldkit.store.journal import parse

TITLES = {"problems": N_("Problems"), "medications": N_("Medication summary"),
          "allergies": N_("Allergies and intolerances"), "immunizations": N_("Immunizations"),
          "results": N_("Results"), "vital_signs": N_("Vital signs")}
# What staff write in the allergy list when they asked and there is none: a statement, not an allergy.
NONE_KNOWN = frozenset({NO_KNOWN_ALLERGIES, "no known allergies"})
XHTML = "http://www.w3.org/1999/xhtml"


def summary(conn: Any, patient_id: str, *, device_id: str, now: datetime | None = None,
            validate: bool = True) -> dict[str, Any]:
    """The IPS of a patient as a Bundle (plain dicts, decimals as Decimal: `fhir_bundle.dumps`
    writes it), checked as every export is (the R4B models when `validate`, the bindings, the
    references) and as a document (its Composition first, its identifier and timestamp)."""
    _refuse_other_records(conn, patient_id)
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    picked = _picked(fhir.resources_of(conn, patient_ids=[patient_id], today=moment.date()), patient_id)
    record = queries.patient_record(conn, patient_id) or {}
    picked["allergies"] = allergies(record)
    empty = {"allergies": "nilknown"} if not picked["allergies"] and _none_known(conn, record) else {}
    device = {"resourceType": "Device", "id": fhir.fhir_id(device_id), "identifier": [fhir.own("device", device_id)],
              "deviceName": [{"name": "fieldkit", "type": "model-name"}], "version": [{"value": fieldkit.__version__}]}
    document_id = str(uuid.uuid4())
    identifier = {"system": c.id_system("patient-summary"), "value": document_id}
    composition = {
        "resourceType": "Composition", "id": document_id, "identifier": identifier, "status": "final",
        "type": fhir.concept(c.LOINC, *c.IPS_DOCUMENT), "subject": fhir.ref("Patient", patient_id), "date": stamp,
        "author": [fhir.ref("Device", device_id)], "title": _("Patient summary"),
        "section": [section(name, picked[name], empty.get(name, "unavailable")) for name in c.IPS_SECTIONS]}
    listed = [resource for name in c.IPS_SECTIONS for resource in picked[name]]
    resources = [composition, *picked["patients"], device, *listed, *_encounters_of(listed, picked["encounters"])]
    bundle = {"resourceType": "Bundle", "identifier": identifier, "type": fhir_bundle.DOCUMENT, "timestamp": stamp,
              "entry": [fhir_bundle.entry(resource, fhir_bundle.DOCUMENT) for resource in resources]}
    fhir_bundle.check_bundle(bundle, validate=validate)
    return bundle


def _refuse_other_records(conn: Any, patient_id: str) -> None:
    row = conn.execute("SELECT voided FROM patients WHERE id = ?", (patient_id,)).fetchone()
    if row is None:
        raise FieldkitError(_("no patient with id {id}").format(id=patient_id))
    if (survivor := queries.survivor(conn, patient_id)) != patient_id:
        raise FieldkitError(_("{id} was merged into {other}: ask for the summary of {other}").format(
            id=patient_id, other=survivor))
    if row[0]:
        raise FieldkitError(_("{id} is voided: it has no summary").format(id=patient_id))


# -- what each section lists -------------------------------------------------------------------------

def _in_error(resource: Mapping[str, Any]) -> bool:
    verification = resource.get("verificationStatus") or {}
    return resource.get("status") in ("entered-in-error", "cancelled") or any(
        coding.get("code") == "entered-in-error" for coding in verification.get("coding", ()))


def _category(resource: Mapping[str, Any]) -> str | None:
    return next((coding["code"] for concept in resource.get("category", ()) for coding in concept.get("coding", ())
                 if coding.get("system") == c.OBSERVATION_CATEGORY), None)


def _newest_first(resources: list[dict[str, Any]], when: Callable[[dict[str, Any]], str]) -> list[dict[str, Any]]:
    return sorted(resources, key=when, reverse=True)  # stable: one encounter's keep their order


def _effective(resource: Mapping[str, Any]) -> str:
    return str(resource.get("effectiveDateTime") or resource.get("issued") or "")


def _picked(resources: Iterable[dict[str, Any]], patient_id: str) -> dict[str, list[dict[str, Any]]]:
    """The export's resources of the patient, sorted into the sections (and the patients and encounters
    they point at); what was entered in error goes nowhere."""
    found: dict[str, list[dict[str, Any]]] = {name: [] for name in (*c.IPS_SECTIONS, "patients", "encounters")}
    latest: dict[str, dict[str, Any]] = {}  # the newest reading of each vital sign
    for resource in resources:
        kind = resource["resourceType"]
        if kind == "Patient":  # the subject first, then the records merged into it
            found["patients"].insert(0 if resource["id"] == fhir.fhir_id(patient_id) else len(found["patients"]),
                                     resource)
        elif _in_error(resource):
            continue
        elif kind == "Encounter":
            found["encounters"].append(resource)
        elif kind == "Condition":
            found["problems"].append(resource)
        elif kind == "MedicationRequest":
            found["medications"].append(resource)
        elif kind == "Immunization":
            found["immunizations"].append(resource)
        elif kind == "Observation" and _category(resource) == "laboratory":
            found["results"].append(resource)
        elif kind == "Observation" and _category(resource) == "vital-signs":
            code = resource["code"]["coding"][0]["code"]
            # Encounters come in id order, which is the order they were recorded in: on a tie of the
            # second the later one wins.
            if code not in latest or _effective(resource) >= _effective(latest[code]):
                latest[code] = resource
    found["problems"] = _newest_first(found["problems"], lambda r: str(r.get("recordedDate", "")))
    found["medications"] = _newest_first(found["medications"], lambda r: str(r.get("authoredOn", "")))
    found["immunizations"] = _newest_first(found["immunizations"], lambda r: str(r.get("occurrenceDateTime", "")))
    found["results"] = _newest_first(found["results"], _effective)
    found["vital_signs"] = sorted(latest.values(), key=lambda r: r["code"]["coding"][0]["code"])
    return found


def _encounters_of(listed: list[dict[str, Any]], encounters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The encounters the listed resources were recorded at, which the document must hold."""
    wanted = {r["encounter"]["reference"] for r in listed if "encounter" in r}
    return [e for e in encounters if f"Encounter/{e['id']}" in wanted]


def allergies(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """An AllergyIntolerance for each allergy recorded under the patient or a record merged into
    them (a chart's `record`, records.queries.patient_record); under a dispute, each allergy any of
    the disputing edits gave, unconfirmed."""
    found = []
    for part in queries.every_allergy(dict(record)):
        disputed = part["disputed"] is not None
        texts = [text for value in part["disputed"] for text in (value or [])] if disputed else part["allergies"]
        for text in dict.fromkeys(texts):
            if text.casefold() not in NONE_KNOWN:
                found.append(allergy_resource(part["patient_id"], text, disputed=disputed))
    return found


def allergy_resource(patient_id: str, text: str, *, disputed: bool = False) -> dict[str, Any]:
    return fhir.pruned({
        "resourceType": "AllergyIntolerance", "id": fhir.derived_id(patient_id, "allergy", text),
        "clinicalStatus": fhir.concept(c.ALLERGY_CLINICAL, "active"),
        "verificationStatus": fhir.concept(c.ALLERGY_VERIFICATION, "unconfirmed") if disputed else None,
        "code": {"text": text}, "patient": fhir.ref("Patient", patient_id),
        "note": [{"text": _("two edits of the record disagree on the allergies; a supervisor has not settled them")}]
        if disputed else [],
    })


def _none_known(conn: Any, record: Mapping[str, Any]) -> bool:
    """Did someone record that the patient has no known allergy: on the record (or one merged into
    it), or by ticking it on the patient's latest referral?"""
    parts = (record, *record.get("merged", ()))
    if any(text.casefold() in NONE_KNOWN for part in parts for text in part.get("allergies") or ()):
        return True
    row = conn.execute("SELECT snapshot FROM referrals WHERE patient_id IN (SELECT value FROM json_each(?)) "
                       "AND voided IS NOT 1 AND snapshot IS NOT NULL ORDER BY created DESC LIMIT 1",
                       (orjson.dumps([part["id"] for part in parts]).decode(),)).fetchone()
    return bool(row) and (parse(row[0]).get("allergies") or []) == [NO_KNOWN_ALLERGIES]


# -- the Composition's sections ------------------------------------------------------------------------

def section(name: str, resources: list[dict[str, Any]], empty_reason: str = "unavailable") -> dict[str, Any]:
    """A section listing `resources`, each a line of its narrative, or saying why it lists none."""
    code, display = c.IPS_SECTIONS[name]
    found: dict[str, Any] = {"title": _(TITLES[name]), "code": fhir.concept(c.LOINC, code, display)}
    if resources:
        items = "".join(f"<li>{escape(line(resource))}</li>" for resource in resources)
        found["text"] = {"status": "generated", "div": f'<div xmlns="{XHTML}"><ul>{items}</ul></div>'}
        found["entry"] = [{"reference": f"{r['resourceType']}/{r['id']}"} for r in resources]
    else:
        said = _("No known allergies") if empty_reason == "nilknown" else _("Nothing recorded")
        found["text"] = {"status": "generated", "div": f'<div xmlns="{XHTML}"><p>{escape(said)}</p></div>'}
        found["emptyReason"] = fhir.concept(c.LIST_EMPTY_REASON, empty_reason, c.EMPTY_REASONS[empty_reason])
    return found


def _shown_day(value: str) -> str:
    """A day as the reader's locale writes it; a partial date ("2019", "2019-08") as recorded."""
    try:
        return day(date.fromisoformat(value[:10]))
    except ValueError:
        return value


def _quantity(quantity: Mapping[str, Any]) -> str:
    return f"{quantity.get('value')} {quantity.get('unit', '')}".strip()


def _value(resource: Mapping[str, Any]) -> str:
    if "valueQuantity" in resource:
        return _quantity(resource["valueQuantity"])
    if "valueCodeableConcept" in resource:
        return str(resource["valueCodeableConcept"].get("text", ""))
    if "component" in resource:  # blood pressure: systolic/diastolic, a reading not taken as "-"
        return "/".join(str(part["valueQuantity"]["value"]) if "valueQuantity" in part else "-"
                        for part in resource["component"]) + " mm[Hg]"
    return str(resource.get("valueString", ""))


def line(resource: Mapping[str, Any]) -> str:
    """How a resource reads in its section's narrative."""
    kind = resource["resourceType"]
    if kind == "AllergyIntolerance":
        unconfirmed = " (" + _("unconfirmed") + ")" if "verificationStatus" in resource else ""
        return str(resource["code"]["text"]) + unconfirmed
    if kind == "Condition":
        codes = [coding["code"] for coding in resource["code"].get("coding", ())]
        label = resource["code"].get("text") or ""
        parts = [f"{label} ({', '.join(codes)})" if codes and label != codes[0] else label]
        when = resource.get("recordedDate")
    elif kind == "MedicationRequest":
        dosage = (resource.get("dosageInstruction") or [{}])[0].get("text", "")
        parts = [resource["medicationCodeableConcept"]["text"], dosage]
        when = resource.get("authoredOn")
    elif kind == "Immunization":
        status = {"not-done": _("not given"), "completed": ""}.get(resource["status"], resource["status"])
        reason = (resource.get("statusReason") or {}).get("text", "")
        parts = [resource["vaccineCode"]["text"], f"{status}: {reason}" if reason else status]
        when = resource.get("occurrenceDateTime") or resource.get("occurrenceString")
    else:  # an Observation
        parts = [resource["code"].get("text", ""), _value(resource)]
        when = _effective(resource)
    parts.append(_shown_day(str(when)) if when else "")
    return ", ".join(part for part in parts if part)
