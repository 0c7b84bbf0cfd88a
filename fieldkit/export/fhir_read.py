"""A collection bundle read back into fieldkit's row fields: what shows that an export of patients,
lab results and immunizations lost nothing (reference/clinical.md E, acceptance test 3).

Ids come from fieldkit's own identifiers, not the lowercased FHIR ids. A lab value comes back as
the decimal text the lab reported when the bundle was parsed with `load` (JSON numbers as
decimals: 4.50 stays "4.50"). What FHIR cannot say the export does not claim, so it cannot come
back either: an estimated birth date comes back as its year; a not-given record that a dose given
elsewhere superseded comes back as not given.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

from fieldkit.export import fhir_codes as c
from fieldkit.records.names import full_name

ID_BASE = c.id_system("")


def load(data: bytes | str) -> dict[str, Any]:
    """A bundle as written: JSON numbers as Decimal, so a value keeps the digits it was sent with."""
    return json.loads(data, parse_float=Decimal)


def read_collection(bundle: Mapping[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """{"patients", "lab_results", "immunizations"}: each {fieldkit id: its row's fields}."""
    resources = [entry["resource"] for entry in bundle.get("entry", ())]
    ids = {f"{r['resourceType']}/{r['id']}": record for r in resources if (record := _own(r))}
    found: dict[str, dict[str, dict[str, Any]]] = {"patients": {}, "lab_results": {}, "immunizations": {}}
    for resource in resources:
        kind, record = resource["resourceType"], _own(resource)
        if record is None:
            continue  # not made from a row of one of these tables (a vital sign: an encounter's)
        if kind == "Patient":
            found["patients"][record] = patient_fields(resource, ids)
        elif kind == "Observation" and _category(resource) == "laboratory":
            found["lab_results"][record] = lab_fields(resource, ids)
        elif kind == "Immunization":
            found["immunizations"][record] = immunization_fields(resource, ids)
    return found


def _own(resource: Mapping[str, Any]) -> str | None:
    """fieldkit's id of the record a resource was made from."""
    for identifier in resource.get("identifier", ()):
        if identifier.get("system") == c.id_system(_KIND.get(resource["resourceType"], "")):
            return str(identifier["value"])
    return None


_KIND = {"Patient": "patient", "Observation": "lab-result", "Immunization": "immunization"}


def _target(reference: Mapping[str, Any] | None, ids: Mapping[str, str]) -> str | None:
    if not reference or "reference" not in reference:
        return None
    return ids.get(reference["reference"], reference["reference"].split("/", 1)[-1])


def _category(resource: Mapping[str, Any]) -> str | None:
    return next((coding["code"] for concept in resource.get("category", ()) for coding in concept.get("coding", ())
                 if coding.get("system") == c.OBSERVATION_CATEGORY), None)


def _code(concept: Mapping[str, Any] | None, system: str) -> str | None:
    return next((coding["code"] for coding in (concept or {}).get("coding", ()) if coding.get("system") == system), None)


def _extension(resource: Mapping[str, Any], url: str) -> Any:
    for extension in resource.get("extension", ()):
        if extension.get("url") == url:
            return next(value for key, value in extension.items() if key.startswith("value"))
    return None


def _text(value: Any) -> str | None:
    """A JSON number as the decimal text it was written as."""
    return None if value is None else str(value)


def _only(fields: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value not in (None, "", [], {})}


def patient_fields(resource: Mapping[str, Any], ids: Mapping[str, str]) -> dict[str, Any]:
    name = (resource.get("name") or [{}])[0]
    given = list(name.get("given", ()))
    identifiers = {unquote(i["system"][len(ID_BASE):]): i["value"] for i in resource.get("identifier", ())
                   if i.get("system", "").startswith(ID_BASE) and i["system"] != c.PATIENT_SYSTEM}
    birth = resource.get("birthDate")
    survivor = next((_target(link["other"], ids) for link in resource.get("link", ()) if link["type"] == "replaced-by"),
                    None)
    fields = {"given_name": given[0] if given else None, "other_names": " ".join(given[1:]) or None,
              "family_name": name.get("family"), "sex": resource.get("gender"), "birth_date": birth,
              "birth_date_estimated": True if birth and len(birth) == 4 else None,
              "phone": next((t["value"] for t in resource.get("telecom", ()) if t.get("system") == "phone"), None),
              "identifiers": identifiers, "locality": (resource.get("address") or [{}])[0].get("text"),
              "merged_into": survivor,
              "voided": True if resource.get("active") is False and not survivor else None}
    # The order a name is said in is the order `text` shows it in.
    if name.get("text") and name["text"] != full_name(fields) and name["text"] == full_name(
            {**fields, "name_order": "family-first"}):
        fields["name_order"] = "family-first"
    return _only(fields)


def lab_fields(resource: Mapping[str, Any], ids: Mapping[str, str]) -> dict[str, Any]:
    quantity = resource.get("valueQuantity") or {}
    bounds = (resource.get("referenceRange") or [{}])[0]
    coded = _code(resource.get("valueCodeableConcept"), c.LAB_ANSWER)
    status = resource["status"]
    return _only({
        "patient_id": _target(resource.get("subject"), ids), "test": _code(resource["code"], c.LAB_TEST),
        "loinc": _code(resource["code"], c.LOINC), "value": _text(quantity.get("value")),
        "unit": quantity.get("code"), "coded": coded, "text": resource.get("valueString"),
        "range_low": _text((bounds.get("low") or {}).get("value")),
        "range_high": _text((bounds.get("high") or {}).get("value")), "range_text": bounds.get("text"),
        "interpretation": _code((resource.get("interpretation") or [None])[0], c.INTERPRETATION),
        "status": status, "collected": resource.get("effectiveDateTime"),
        "issued": resource.get("issued") or _extension(resource, c.ISSUED_DAY),
        "lab": (resource.get("performer") or [{}])[0].get("display"),
        "sample_id": ((resource.get("specimen") or {}).get("identifier") or {}).get("value"),
        "round_id": (_extension(resource, c.SCREENING_ROUND) or {}).get("value"),
        "note": " ".join(note["text"] for note in resource.get("note", ())) or None,
    })


def immunization_fields(resource: Mapping[str, Any], ids: Mapping[str, str]) -> dict[str, Any]:
    status, primary = resource["status"], resource.get("primarySource")
    fieldkit_status = {"completed": "given" if primary is not False else "historical", "not-done": "not-given",
                       "entered-in-error": "entered-in-error"}[status]
    protocol = (resource.get("protocolApplied") or [{}])[0]
    dose = resource.get("doseQuantity") or {}
    return _only({
        "patient_id": _target(resource.get("patient"), ids), "vaccine": _code(resource["vaccineCode"], c.VACCINE),
        "series": _extension(protocol, c.SERIES_ROUND), "dose_number": protocol.get("doseNumberPositiveInt"),
        "status": fieldkit_status,
        "reason": (resource.get("statusReason") or {}).get("text"),
        "primary_source": primary,
        "occurred": resource.get("occurrenceDateTime") or resource.get("occurrenceString"),
        "lot": resource.get("lotNumber"), "lot_expiry": resource.get("expirationDate"),
        "manufacturer": (resource.get("manufacturer") or {}).get("display"),
        "site": (resource.get("site") or {}).get("text"), "route": (resource.get("route") or {}).get("text"),
        "dose_quantity": None if dose.get("value") is None else float(dose["value"]), "dose_unit": dose.get("code"),
        "location": (resource.get("location") or {}).get("display"),
    })
