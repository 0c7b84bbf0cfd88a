"""What fhir.resources accepts but FHIR does not (reference/clinical.md E): the value sets of every
coded element fieldkit emits, the resource types each reference may point at, and the rules of
ids, empty elements and quantities. `check` runs on every resource of an export.

A binding names an element by its path of keys from the resource (lists are looked through:
"category.coding" is every coding of every category). The table is closed: a Coding or a
reference at a path the table does not name is refused too, so a new coded element cannot leave
without its value set. Value sets of required bindings are FHIR R4's whole set, so a wrong but
plausible code ("arrived" as a Task status) is caught, not only a misspelt one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fieldkit.errors import FieldkitError
from fieldkit.export import fhir_codes as c
from fieldkit.i18n import _
from fieldkit.store.lifecycle import NOT_ATTENDED_REASONS, STATUSES

ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


@dataclass(frozen=True)
class Codes:
    """A `code` element: one of these values."""

    values: frozenset[str]


@dataclass(frozen=True)
class Systems:
    """Codings: each from one of these systems, with one of its listed codes (None: any code)."""

    systems: Mapping[str, frozenset[str] | None]


def codes(*values: str) -> Codes:
    return Codes(frozenset(values))


def coding(system: str, listed: Any = None) -> Systems:
    return Systems({system: None if listed is None else frozenset(listed)})


REQUEST_INTENT = codes("proposal", "plan", "directive", "order", "original-order", "reflex-order", "filler-order",
                       "instance-order", "option")
PRIORITY = codes("routine", "urgent", "asap", "stat")
INTERPRETATION = coding(c.INTERPRETATION, c.INTERPRETATIONS)
DATA_ABSENT = coding(c.DATA_ABSENT, ("unknown", "asked-unknown", "temp-unknown", "not-asked", "asked-declined",
                                     "masked", "not-applicable", "unsupported", "as-text", "error", "not-a-number",
                                     "negative-infinity", "positive-infinity", "not-performed", "not-permitted"))
VACCINE_CODE = Systems({c.ICD11: None, c.ATC: None, c.VACCINE: None, c.PREQUAL: None})
TARGET_DISEASE = Systems({c.ICD11: None, c.ICD10: None, c.DISEASE: None})
EPISODE_STATUS = codes("planned", "waitlist", "active", "onhold", "finished", "cancelled", "entered-in-error")
NARRATIVE_STATUS = codes("generated", "extensions", "additional", "empty")

BINDINGS: dict[str, dict[str, Codes | Systems]] = {
    "Patient": {
        "gender": codes("male", "female", "other", "unknown"),
        "telecom.system": codes("phone", "fax", "email", "pager", "url", "sms", "other"),
        "link.type": codes("replaced-by", "replaces", "refer", "seealso"),
    },
    "Encounter": {
        "status": codes("planned", "arrived", "triaged", "in-progress", "onleave", "finished", "cancelled",
                        "entered-in-error", "unknown"),
        "class": coding(c.ACT_CODE, ("AMB", "EMER", "FLD", "HH", "IMP", "ACUTE", "NONAC", "OBSENC", "PRENC", "SS", "VR")),
        "type.coding": coding(c.ENCOUNTER_KIND, c.ENCOUNTER_CLASS),
    },
    "Observation": {
        "status": codes("registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error",
                        "unknown"),
        "category.coding": coding(c.OBSERVATION_CATEGORY, ("social-history", "vital-signs", "imaging", "laboratory",
                                                           "procedure", "survey", "exam", "therapy", "activity")),
        "code.coding": Systems({c.LOINC: None, c.SCORE: frozenset({c.NEWS2[0]}), c.LAB_TEST: None}),
        "component.code.coding": coding(c.LOINC, [code.loinc for code in c.BP_COMPONENTS.values()]),
        "component.dataAbsentReason.coding": DATA_ABSENT,
        "dataAbsentReason.coding": DATA_ABSENT,
        "interpretation.coding": INTERPRETATION,
        "valueCodeableConcept.coding": Systems({c.LOINC: None, c.LAB_ANSWER: None}),
    },
    "Condition": {
        "clinicalStatus.coding": coding(c.CONDITION_CLINICAL, ("active", "recurrence", "relapse", "inactive",
                                                               "remission", "resolved")),
        "verificationStatus.coding": coding(c.CONDITION_VERIFICATION, ("unconfirmed", "provisional", "differential",
                                                                       "confirmed", "refuted", "entered-in-error")),
        "category.coding": coding(c.CONDITION_CATEGORY, ("problem-list-item", "encounter-diagnosis")),
        "code.coding": Systems({c.ICD10: None, c.ICD11: None}),
    },
    "MedicationRequest": {
        "status": codes("active", "on-hold", "cancelled", "completed", "entered-in-error", "stopped", "draft", "unknown"),
        "intent": codes("proposal", "plan", "order", "original-order", "reflex-order", "filler-order",
                        "instance-order", "option"),
        "medicationCodeableConcept.coding": coding(c.ATC),
        "dosageInstruction.route.coding": coding(c.ROUTE),
    },
    "ServiceRequest": {
        "status": codes("draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"),
        "intent": REQUEST_INTENT,
        "priority": PRIORITY,
        "category.coding": coding(c.REFERRAL_KIND, ("referral", "econsult", "transfer")),
        "reasonCode.coding": Systems({c.ICD10: None, c.ICD11: None}),
    },
    "Task": {
        "status": codes("draft", "requested", "received", "accepted", "rejected", "ready", "cancelled", "in-progress",
                        "on-hold", "failed", "completed", "entered-in-error"),
        "intent": codes("unknown", "proposal", "plan", "order", "original-order", "reflex-order", "filler-order",
                        "instance-order", "option"),
        "priority": PRIORITY,
        "businessStatus.coding": coding(c.REFERRAL_STATUS, STATUSES),
        "statusReason.coding": coding(c.NOT_ATTENDED, NOT_ATTENDED_REASONS),
    },
    "Immunization": {
        "status": codes("completed", "entered-in-error", "not-done"),
        "statusReason.coding": Systems({c.ACT_REASON: frozenset({"IMMUNE", "MEDPREC", "OSTOCK", "PATOBJ"}),
                                        c.NOT_GIVEN: None}),
        "vaccineCode.coding": VACCINE_CODE,
        "route.coding": coding(c.ROUTE, set(c.ROUTE_CODES.values())),
        "site.coding": coding(c.ACT_SITE, set(c.SITE_CODES.values())),
        "protocolApplied.targetDisease.coding": TARGET_DISEASE,
    },
    "ImmunizationRecommendation": {
        "recommendation.vaccineCode.coding": VACCINE_CODE,
        "recommendation.targetDisease.coding": TARGET_DISEASE,
        "recommendation.forecastStatus.coding": coding(c.FORECAST_STATUS, ("due", "overdue", "immune",
                                                                           "contraindicated", "complete")),
        "recommendation.dateCriterion.code.coding": coding(c.LOINC, ("30980-7", "30981-5", "59777-3", "59778-1")),
    },
    "EpisodeOfCare": {
        "status": EPISODE_STATUS,
        "statusHistory.status": EPISODE_STATUS,
        "type.coding": coding(c.PROGRAMME),
    },
    # The patient summary's own (ips.py).
    "Composition": {
        "status": codes("preliminary", "final", "amended", "entered-in-error"),
        "type.coding": coding(c.LOINC, {c.IPS_DOCUMENT[0]}),
        "section.code.coding": coding(c.LOINC, [code for code, _display in c.IPS_SECTIONS.values()]),
        "section.emptyReason.coding": coding(c.LIST_EMPTY_REASON, c.EMPTY_REASONS),
        "section.text.status": NARRATIVE_STATUS,
    },
    "AllergyIntolerance": {
        "clinicalStatus.coding": coding(c.ALLERGY_CLINICAL, ("active", "inactive", "resolved")),
        "verificationStatus.coding": coding(c.ALLERGY_VERIFICATION, ("unconfirmed", "confirmed", "refuted",
                                                                     "entered-in-error")),
    },
    "Device": {
        "deviceName.type": codes("udi-label-name", "user-friendly-name", "patient-reported-name", "manufacturer-name",
                                 "model-name", "other"),
    },
}
# Where each reference may point: the types fieldkit means there (each within what FHIR allows, which a
# test checks against the models' own lists).
REFERENCES: dict[str, dict[str, frozenset[str]]] = {
    "Patient": {"link.other": frozenset({"Patient"})},
    "Encounter": {"subject": frozenset({"Patient"})},
    "Observation": {"subject": frozenset({"Patient"}), "encounter": frozenset({"Encounter"}),
                    "derivedFrom": frozenset({"Observation"})},
    "Condition": {"subject": frozenset({"Patient"}), "encounter": frozenset({"Encounter"})},
    "MedicationRequest": {"subject": frozenset({"Patient"}), "encounter": frozenset({"Encounter"})},
    "ServiceRequest": {"subject": frozenset({"Patient"}), "encounter": frozenset({"Encounter"}),
                       "replaces": frozenset({"ServiceRequest"})},
    "Task": {"for": frozenset({"Patient"}), "focus": frozenset({"ServiceRequest"}),
             "basedOn": frozenset({"ServiceRequest"})},
    "Immunization": {"patient": frozenset({"Patient"})},
    "ImmunizationRecommendation": {"patient": frozenset({"Patient"}),
                                   "recommendation.supportingImmunization": frozenset({"Immunization"})},
    "EpisodeOfCare": {"patient": frozenset({"Patient"})},
    "Composition": {"subject": frozenset({"Patient"}), "author": frozenset({"Device"}),
                    "section.entry": frozenset({"Condition", "MedicationRequest", "AllergyIntolerance", "Immunization",
                                                "Observation"})},
    "AllergyIntolerance": {"patient": frozenset({"Patient"})},
}
DOCUMENT_ONLY = frozenset({"Composition", "AllergyIntolerance", "Device"})  # in a patient summary alone
TYPES = frozenset(BINDINGS) - DOCUMENT_ONLY  # what an export of records emits


def refused(resource: Mapping[str, Any], element: str, problem: str) -> FieldkitError:
    label = f"{resource.get('resourceType', '?')}/{resource.get('id', '?')}"
    return FieldkitError(_("FHIR {resource} {element}: {problem}").format(resource=label, element=element,
                                                                           problem=problem))


def check(resource: dict) -> None:
    """Refuse (FieldkitError naming the resource and the element) what FHIR forbids and the models let by."""
    references(resource)


def references(resource: dict) -> list[str]:
    """Check a resource as `check` does; the references it makes, in order."""
    kind = resource.get("resourceType")
    table = BINDINGS.get(kind or "")
    if table is None:
        raise refused(resource, "resourceType", _("not a type fieldkit exports"))
    if not isinstance(resource.get("id"), str) or not ID.fullmatch(resource["id"]):
        raise refused(resource, "id", _("“{value}” is not a FHIR id (1 to 64 of A-Z a-z 0-9 - .)").format(
            value=resource.get("id")))
    for path, binding in table.items():
        if isinstance(binding, Codes):
            for value in _at(resource, path.split(".")):
                if value not in binding.values:
                    raise refused(resource, path, _("“{value}” is not one of its codes").format(value=value))
    found: list[str] = []
    targets = REFERENCES.get(kind or "", {})
    for path, node in _objects(resource, ""):
        if not node:
            raise refused(resource, path, _("an empty element (FHIR elements have a value or children)"))
        if "reference" in node:
            allowed = targets.get(path)
            if allowed is None:
                raise refused(resource, path, _("no reference is expected here"))
            if node["reference"].split("/", 1)[0] not in allowed:
                raise refused(resource, path, _("“{value}” must point at {types}").format(
                    value=node["reference"], types=", ".join(sorted(allowed))))
            found.append(node["reference"])
        code, value = node.get("code"), node.get("value")
        if isinstance(code, str) and "value" not in node:  # a Coding
            _coding(resource, path, node, table.get(path))
        elif isinstance(value, (int, float, Decimal)) and ("code" in node or "unit" in node) and node.get("system") != c.UCUM:
            raise refused(resource, path, _("a quantity's unit must be a UCUM code (system {system})").format(
                system=c.UCUM))
    return found


def _coding(resource: dict, path: str, node: Mapping[str, Any], binding: Codes | Systems | None) -> None:
    if not isinstance(binding, Systems):
        raise refused(resource, path, _("a coded element with no binding"))
    system = str(node.get("system"))
    if system not in binding.systems:
        raise refused(resource, path, _("“{value}” is not a code system allowed here").format(value=system))
    listed = binding.systems[system]
    if listed is not None and node["code"] not in listed:
        raise refused(resource, path, _("“{value}” is not one of its codes").format(value=node["code"]))


def _at(node: Any, keys: list[str]) -> Iterator[Any]:
    if isinstance(node, list):
        for item in node:
            yield from _at(item, keys)
    elif not keys:
        yield node
    elif isinstance(node, dict) and keys[0] in node:
        yield from _at(node[keys[0]], keys[1:])


def _objects(node: Mapping[str, Any], path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every object inside a resource with its path; an empty list, string or object is refused."""
    for key, value in node.items():
        where = f"{path}.{key}" if path else key
        items = value if isinstance(value, list) else (value,)
        if not items:
            yield where, {}
        for item in items:
            if isinstance(item, dict):
                yield where, item
                yield from _objects(item, where)
            elif item is None or item == "":
                yield where, {}
