"""The FHIR R4 export: fieldkit's folded tables as resources, streamed as one Bundle.

Headless and laptop-free: everything here is a function of a DB-API connection to the folded
tables and the journal (an encounter's content is in the entry its row points at), so the laptop's
`fieldkit export fhir` and the hub's replica run the same code.

Resources, each with an id derived from fieldkit's own (a ULID lowercased; what has no id of its
own, a vital sign of an encounter, a hash of its encounter's id and its code; never a name or a
number that says who the patient is):
  patients -> Patient; encounters -> Encounter, Observation (vital signs, NEWS2), Condition,
  MedicationRequest; referrals -> ServiceRequest + Task (status from the events); enrolments ->
  EpisodeOfCare; lab results -> Observation (laboratory); immunizations -> Immunization, and the
  schedule's next doses -> ImmunizationRecommendation.
Rows are read in id order, so two exports of the same data are the same entries in the same order.

`since` (a version vector: the `next_since` of the export before, read in the same read transaction
as its rows) keeps what the database received after it, exactly (fhir_since.py): an entry synced in
late with an older stamp is in the next export all the same. `vector_at` turns a date into a vector,
an approximate convenience: it trusts the clocks of the laptops that wrote.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

import orjson

from fieldkit.errors import FieldkitError
from fieldkit.export import fhir_bundle, fhir_since
from fieldkit.export import fhir_codes as c
from fieldkit.export.fhir_bindings import ID
from fieldkit.i18n import _
from fieldkit.records import facilities, immunity, lab_codes, schedules, vaccines
from fieldkit.records.enrolments import programmes
from fieldkit.records.models import OLDEST_BIRTH
from fieldkit.records.names import full_name
from fieldkit.store.heads import heads, version_vector
from fieldkit.store.hlc import millis, pack
from fieldkit.store.journal import parse

_PARTIAL_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")


# -- ids, references, times --------------------------------------------------------------------------

def fhir_id(raw: str) -> str:
    """A fieldkit id as a FHIR id: a ULID lowercased; anything that does not fit, hashed."""
    low = raw.lower()
    return low if ID.fullmatch(low) else derived_id(raw)


def derived_id(*parts: str) -> str:
    """The id of what has none of its own (a vital sign of an encounter): the same every export."""
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def ref(kind: str, raw_id: str) -> dict[str, str]:
    return {"reference": f"{kind}/{fhir_id(raw_id)}"}


def own(kind: str, value: str) -> dict[str, str]:
    """fieldkit's identifier of a record, as it is (the FHIR id is lowercased)."""
    return {"system": c.id_system(kind), "value": value}


def instant(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def instant_of(ver: str) -> str:
    """The wall-clock time inside a journal version."""
    return instant(millis(int(ver.split(".", 1)[0], 16)))


def next_since(conn: Any) -> dict[str, int]:
    """What the next export's `since` is: the database's version vector. Read it in the read
    transaction that exports (any time in it: a read sees one snapshot); one read before it only
    exports some changes twice, one read after it could miss some."""
    return version_vector(conn)


def vector_at(conn: Any, text: str) -> dict[str, int]:
    """A date and time as typed (local unless it says its zone) as a version vector: of each laptop,
    its entries up to its first stamped at or after that moment. Approximate: it trusts each
    laptop's clock, and an entry stamped before it that arrives later is never after it."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise FieldkitError(_("“{typed}” is not a date and time (2026-05-01T08:00)").format(typed=text)) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()
    mark = pack(int(moment.timestamp() * 1000))
    found = {}
    for origin, top in heads(conn):
        # An origin's stamps rise with its seq (its clock never runs back): the first one at or after.
        first = conn.execute("SELECT seq FROM journal WHERE origin = ? AND hlc >= ? ORDER BY seq LIMIT 1",
                             (origin, mark)).fetchone()
        found[origin] = first[0] - 1 if first else top
    return found


def _decimal(text: Any) -> Decimal | None:
    try:
        return None if text in (None, "") else Decimal(str(text))
    except InvalidOperation:
        return None


def _quantity(value: Any, unit: str | None) -> dict[str, Any]:
    """A Quantity; a unit is always its UCUM code (system and code), shown as is."""
    found: dict[str, Any] = {"value": value}
    if unit:
        found |= {"unit": unit, "system": c.UCUM, "code": unit}
    return found


def concept(system: str, code: str, display: str = "", text: str = "") -> dict[str, Any]:
    coding = {"system": system, "code": code, **({"display": display} if display else {})}
    return {"coding": [coding], **({"text": text} if text else {})}


def pruned(resource: dict[str, Any]) -> dict[str, Any]:
    """Without the elements left empty: FHIR has no empty elements."""
    return {k: v for k, v in resource.items() if v not in (None, "", [], {})}


def _mapped(table: Mapping[str, str], value: Any, what: str, record: str) -> str:
    if value not in table:
        raise FieldkitError(_("{record}: {what} “{value}” has no FHIR code").format(record=record, what=what,
                                                                                    value=value))
    return table[value]


# -- which rows ------------------------------------------------------------------------------------

class Scope:
    """Which rows an export reads: all, those of some patients, those changed since a version vector."""

    def __init__(self, conn: Any, since: Mapping[str, int] | None, patient_ids: Iterable[str] | None) -> None:
        self.changed = None if since is None else fhir_since.changed_since(conn, fhir_since.checked(since))
        self.patients = None if patient_ids is None else sorted(_linked(conn, patient_ids))

    def where(self, alias: str, table: str, key: str = "id", patient: str = "patient_id") -> tuple[str, list[Any]]:
        """A WHERE clause for rows of `table` (as `alias`): of the patients asked for; since a vector,
        those whose `key` the changes name (fhir_since), or of a patient new since."""
        clauses, params = ["1"], []
        if self.patients is not None:
            clauses.append(f"{alias}.{patient} IN (SELECT value FROM json_each(?))")
            params.append(_json_list(self.patients))
        if self.changed is not None:
            tests = [f"{alias}.{key} IN (SELECT value FROM json_each(?))"]
            params.append(_json_list(sorted(self.changed.of(table))))
            if self.changed.new_patients:
                tests.append(f"{alias}.{patient} IN (SELECT value FROM json_each(?))")
                params.append(_json_list(sorted(self.changed.new_patients)))
            clauses.append("(" + " OR ".join(tests) + ")")
        return " AND ".join(clauses), params


def _json_list(values: list[str]) -> str:
    return orjson.dumps(values).decode()


def _linked(conn: Any, patient_ids: Iterable[str]) -> set[str]:
    """The patients asked for and the records merged into them or they into: a Patient's link
    names the other record, which the export then carries too."""
    found, todo = set(), list(patient_ids)
    while todo:
        pid = todo.pop()
        if pid in found:
            continue
        found.add(pid)
        todo += [row[0] for row in conn.execute("SELECT merged_into FROM patients WHERE id = ? AND merged_into IS NOT NULL",
                                                (pid,))]
        todo += [row[0] for row in conn.execute("SELECT id FROM patients WHERE merged_into = ?", (pid,))]
    return found


def _rows(conn: Any, sql: str, params: Sequence[Any] = ()) -> Iterator[dict[str, Any]]:
    cursor = conn.execute(sql, params)
    names = [column[0] for column in cursor.description]
    for row in cursor:
        yield dict(zip(names, row))


# -- patients --------------------------------------------------------------------------------------

def _disputed(conn: Any) -> dict[str, set[str]]:
    """Safety fields two edits disagree on, by patient: shown nowhere with a single value until a
    supervisor settles them (records/queries.py), so left out of the export too."""
    found: dict[str, set[str]] = {}
    for entity_id, field in conn.execute(
            "SELECT c.entity_id, c.field FROM conflicts c LEFT JOIN resolutions r ON r.conflict_id = c.id "
            "WHERE c.entity = 'patient' AND c.safety = 1 AND r.conflict_id IS NULL"):
        found.setdefault(entity_id, set()).add(field)
    return found


def patient_resource(row: Mapping[str, Any], *, disputed: Collection[str] = (), replaces: Sequence[str] = (),
                     survivor_held: bool = True) -> dict[str, Any]:
    """A registration: fieldkit's id and the patient's own identifiers, the name in its own script,
    and a merged record's link to the one it went into (when this database holds that one: a merge
    can arrive before the record it names) and back."""
    pid = row["id"]
    identifiers = parse(row["identifiers"]) if row.get("identifiers") and "identifiers" not in disputed else {}
    name = pruned({"text": full_name(row), "family": row.get("family_name"),
                    "given": [part for part in (row.get("given_name"), row.get("other_names")) if part]})
    birth = row.get("birth_date") if not {"birth_date", "birth_date_estimated"} & set(disputed) else None
    links = [{"other": ref("Patient", row["merged_into"]), "type": "replaced-by"}] \
        if row.get("merged_into") and survivor_held else []
    links += [{"other": ref("Patient", other), "type": "replaces"} for other in replaces]
    return pruned({
        "resourceType": "Patient", "id": fhir_id(pid),
        # A system typed at registration ("national", "staff") may hold any letter: quoted into the URI.
        "identifier": [own("patient", pid), *({"system": c.id_system(quote(system, safe="")), "value": value}
                                               for system, value in sorted(identifiers.items()))],
        "active": not (row.get("voided") or row.get("merged_into")),
        "name": [name] if name else [],
        "telecom": [{"system": "phone", "value": row["phone"]}] if row.get("phone") else [],
        "gender": row.get("sex") if "sex" not in disputed else None,
        # An estimated birth date is an age: its year is what is known.
        "birthDate": (birth[:4] if row.get("birth_date_estimated") else birth) if birth else None,
        "address": [{"text": row["locality"]}] if row.get("locality") else [],
        "link": links,
    })


def _patients(conn: Any, scope: Scope) -> Iterator[dict[str, Any]]:
    disputed = _disputed(conn)
    replaces: dict[str, list[str]] = {}
    for pid, survivor in conn.execute("SELECT id, merged_into FROM patients WHERE merged_into IS NOT NULL ORDER BY id"):
        replaces.setdefault(survivor, []).append(pid)
    where, params = scope.where("p", "patients", patient="id")
    for row in _rows(conn, "SELECT p.*, EXISTS (SELECT 1 FROM patients s WHERE s.id = p.merged_into) AS survivor_held "
                           f"FROM patients p WHERE {where} ORDER BY id", params):
        yield patient_resource(row, disputed=disputed.get(row["id"], ()), replaces=replaces.get(row["id"], ()),
                               survivor_held=bool(row["survivor_held"]))


# -- encounters ------------------------------------------------------------------------------------

def _observation(oid: str, status: str, category: str, code: dict[str, Any], subject: dict[str, str],
                 encounter: dict[str, str], effective: str, **rest: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": oid, "status": status,
            "category": [concept(c.OBSERVATION_CATEGORY, category)], "code": code, "subject": subject,
            "encounter": encounter, "effectiveDateTime": effective, **rest}


def _loinc(vital: c.VitalCode) -> dict[str, Any]:
    codings = [{"system": c.LOINC, "code": vital.loinc, "display": vital.display}]
    codings += [{"system": c.LOINC, "code": code, "display": display} for code, display in vital.also]
    return {"coding": codings, "text": vital.display}


def _reading(value: float, decimals: int) -> float | int:
    return int(value) if not decimals and float(value).is_integer() else value


def vital_signs(encounter_id: str, vitals: Mapping[str, Any], *, status: str, subject: dict[str, str],
                encounter: dict[str, str], effective: str) -> list[dict[str, Any]]:
    """One Observation per measure recorded; blood pressure as one panel of its two readings."""
    found = []
    for name, vital in c.VITALS.items():
        if vitals.get(name) is not None:
            found.append(_observation(derived_id(encounter_id, vital.loinc), status, vital.category, _loinc(vital),
                                      subject, encounter, effective,
                                      valueQuantity=_quantity(_reading(vitals[name], vital.decimals), vital.ucum)))
    if vitals.get("glucose") is not None:
        vital = c.GLUCOSE_CODES[vitals.get("glucose_unit", "mg/dL")]
        found.append(_observation(derived_id(encounter_id, vital.loinc), status, vital.category, _loinc(vital),
                                  subject, encounter, effective,
                                  valueQuantity=_quantity(_reading(vitals["glucose"], vital.decimals), vital.ucum)))
    if any(vitals.get(name) is not None for name in c.BP_PARTS):
        components = []
        for name, vital in c.BP_COMPONENTS.items():
            part: dict[str, Any] = {"code": _loinc(vital)}
            if vitals.get(name) is not None:
                part["valueQuantity"] = _quantity(_reading(vitals[name], 0), vital.ucum)
            else:  # NEWS2 needs the systolic alone: the panel says the other was not taken
                part["dataAbsentReason"] = concept(c.DATA_ABSENT, "not-performed")
            components.append(part)
        code, display = c.BP_PANEL
        found.append(_observation(derived_id(encounter_id, code), status, "vital-signs",
                                  {"coding": [{"system": c.LOINC, "code": code, "display": display}], "text": display},
                                  subject, encounter, effective, component=components))
    return found


def encounter_resources(row: Mapping[str, Any], content: Mapping[str, Any], *, in_error: bool) -> list[dict[str, Any]]:
    """An encounter and what was recorded at it, all marked entered in error with it."""
    eid, subject = row["id"], ref("Patient", row["patient_id"])
    encounter, effective = ref("Encounter", eid), instant(row["recorded"])
    kind = row["kind"]
    klass = _mapped(c.ENCOUNTER_CLASS, kind, "encounter kind", f"Encounter/{eid}")
    found: list[dict[str, Any]] = [{
        "resourceType": "Encounter", "id": fhir_id(eid), "identifier": [own("encounter", eid)],
        "status": "entered-in-error" if in_error else "finished",
        "class": {"system": c.ACT_CODE, "code": klass, "display": c.CLASS_DISPLAY[klass]},
        "type": [concept(c.ENCOUNTER_KIND, kind)], "subject": subject, "period": {"start": effective}}]
    status = "entered-in-error" if in_error else "final"
    vitals = vital_signs(eid, content.get("vitals") or {}, status=status, subject=subject, encounter=encounter,
                         effective=effective)
    found += vitals
    news2 = (content.get("scores") or {}).get("news2") or {}
    if news2.get("complete") and news2.get("total") is not None:
        code, display = c.NEWS2
        found.append(_observation(
            derived_id(eid, code), status, "survey", {"coding": [{"system": c.SCORE, "code": code, "display": display}],
                                                      "text": display},
            subject, encounter, effective, valueInteger=news2["total"],
            # The rule set it was scored by, so a later table never re-reads an old score.
            method={"text": str(news2.get("version") or "NEWS2")},
            **({"interpretation": [{"text": news2["band"]}]} if news2.get("band") else {}),
            derivedFrom=[{"reference": f"Observation/{vital['id']}"} for vital in vitals]))
    for index, diagnosis in enumerate(content.get("diagnoses") or ()):
        found.append(pruned({
            "resourceType": "Condition", "id": derived_id(eid, "condition", str(index)),
            # A diagnosis made at a field visit, without the tests that would confirm it.
            "clinicalStatus": None if in_error else concept(c.CONDITION_CLINICAL, "active"),
            "verificationStatus": concept(c.CONDITION_VERIFICATION, "entered-in-error" if in_error else "provisional"),
            "category": [concept(c.CONDITION_CATEGORY, "encounter-diagnosis")],
            "code": pruned({"coding": [{"system": c.ICD10, "code": diagnosis["code"]}] if diagnosis.get("code") else [],
                             "text": diagnosis.get("text") or diagnosis.get("code")}),
            "subject": subject, "encounter": encounter, "recordedDate": effective}))
    for index, rx in enumerate(content.get("prescriptions") or ()):
        dosage = pruned({"text": " ".join(str(rx[part]) for part in ("dose", "route", "frequency") if rx.get(part)),
                          "route": {"text": rx["route"]} if rx.get("route") else None,
                          "timing": {"repeat": {"boundsDuration": _quantity(rx["duration_days"], "d")}}
                          if rx.get("duration_days") else None})
        found.append(pruned({
            "resourceType": "MedicationRequest", "id": derived_id(eid, "prescription", str(index)),
            "status": "entered-in-error" if in_error else "active", "intent": "order",
            "medicationCodeableConcept": {"text": rx["drug"]}, "subject": subject, "encounter": encounter,
            "authoredOn": effective, "dosageInstruction": [dosage] if dosage else []}))
    return found


def _encounters(conn: Any, scope: Scope) -> Iterator[dict[str, Any]]:
    where, params = scope.where("e", "encounters")
    for row in _rows(conn, (
            "SELECT e.id, e.patient_id, e.recorded, e.kind, j.data, EXISTS (SELECT 1 FROM amendments a "
            "WHERE a.encounter_id = e.id AND a.kind = 'entered_in_error') AS in_error "
            "FROM encounters e JOIN journal j ON j.origin = e.origin AND j.seq = e.seq "
            # An encounter whose patient has not reached this replica yet waits for it.
            f"JOIN patients p ON p.id = e.patient_id WHERE {where} ORDER BY e.id"), params):
        yield from encounter_resources(row, parse(row["data"]), in_error=bool(row["in_error"]))


# -- referrals -------------------------------------------------------------------------------------

def _facility(code: str) -> dict[str, Any]:
    return {"identifier": own("facility", code), "display": facilities.name_of(code)}


def referral_resources(row: Mapping[str, Any], last_event: tuple[str, str, Mapping[str, Any]] | None
                       ) -> list[dict[str, Any]]:
    """The request (ServiceRequest) and the work of carrying it out (Task), whose status follows
    the referral's events. `last_event`: (version, type, data) of the latest event that moved it."""
    rid, label = row["id"], f"ServiceRequest/{row['id']}"
    status = row["status"]
    voided = bool(row.get("voided"))
    priority = _mapped(c.URGENCY_PRIORITY, row.get("urgency") or "routine", "urgency", label)
    identifiers = [own("referral", rid), *([own("referral-number", row["number"])] if row.get("number") else [])]
    request = pruned({
        "resourceType": "ServiceRequest", "id": fhir_id(rid), "identifier": identifiers,
        "status": "entered-in-error" if voided else _mapped(c.REFERRAL_REQUEST_STATUS, status, "status", label),
        "intent": "order",
        "category": [concept(c.REFERRAL_KIND, row.get("kind") or "referral")],
        "priority": priority, "subject": ref("Patient", row["patient_id"]),
        "encounter": ref("Encounter", row["encounter_id"]) if row.get("encounter_id") else None,
        "authoredOn": instant_of(row["created"]),
        "requester": _facility(row["from_facility"]) if row.get("from_facility") else None,
        "performer": [_facility(row["to_facility"])] if row.get("to_facility") else [],
        "reasonCode": [pruned({"coding": [{"system": c.ICD10, "code": row["reason_code"]}] if row.get("reason_code") else [],
                                "text": row.get("reason")})] if row.get("reason") or row.get("reason_code") else [],
        "replaces": [ref("ServiceRequest", row["follows"])] if row.get("follows") else [],
    })
    reason = (last_event[2].get("reason") if last_event and last_event[1] == "not_attended" else None)
    task = pruned({
        "resourceType": "Task", "id": fhir_id(rid), "identifier": identifiers,
        "basedOn": [ref("ServiceRequest", rid)],
        "status": "entered-in-error" if voided else _mapped(c.REFERRAL_TASK_STATUS, status, "status", label),
        "businessStatus": concept(c.REFERRAL_STATUS, status),
        "statusReason": concept(c.NOT_ATTENDED, reason) if reason else None,
        "intent": "order", "priority": priority, "focus": ref("ServiceRequest", rid),
        "for": ref("Patient", row["patient_id"]), "authoredOn": instant_of(row["created"]),
        "lastModified": instant_of(max(row["updated"], last_event[0])) if last_event else instant_of(row["updated"]),
        "owner": _facility(row["to_facility"]) if row.get("to_facility") else None,
    })
    return [request, task]


def _referrals(conn: Any, scope: Scope) -> Iterator[dict[str, Any]]:
    where, params = scope.where("r", "referrals")
    for row in _rows(conn, f"SELECT r.* FROM referrals r JOIN patients p ON p.id = r.patient_id WHERE {where} "
                           "ORDER BY r.id", params):
        last = conn.execute("SELECT ver, type, data FROM referral_events WHERE referral_id = ? AND applied = 1 "
                            "ORDER BY ver DESC LIMIT 1", (row["id"],)).fetchone()
        yield from referral_resources(row, (last[0], last[1], parse(last[2])) if last else None)


# -- programmes ------------------------------------------------------------------------------------

def episode_resource(row: Mapping[str, Any]) -> dict[str, Any]:
    eid = row["id"]
    known = programmes().get(row["programme"])
    stays = parse(row["stays"]) if row.get("stays") else []
    return pruned({
        "resourceType": "EpisodeOfCare", "id": fhir_id(eid), "identifier": [own("enrolment", eid)],
        "status": "entered-in-error" if row.get("voided") else _mapped(
            c.ENROLMENT_STATUS, row["status"], "status", f"EpisodeOfCare/{eid}"),
        # Each stay in hospital paused the enrolment: the episode was on hold then.
        "statusHistory": [{"status": "onhold", "period": pruned({"start": start, "end": end})} for start, end in stays],
        "type": [concept(c.PROGRAMME, row["programme"], known.name if known else "",
                          text=f"{row['programme']}@{row['programme_version']}" if row.get("programme_version") else "")],
        "patient": ref("Patient", row["patient_id"]),
        "period": pruned({"start": row.get("enrolled_on"), "end": row.get("outcome_date")}),
    })


def _enrolments(conn: Any, scope: Scope) -> Iterator[dict[str, Any]]:
    where, params = scope.where("n", "enrolments")
    for row in _rows(conn, f"SELECT n.* FROM enrolments n JOIN patients p ON p.id = n.patient_id WHERE {where} "
                           "ORDER BY n.id", params):
        yield episode_resource(row)


# -- lab results -----------------------------------------------------------------------------------

def lab_resource(row: Mapping[str, Any]) -> dict[str, Any]:
    """A lab result as a laboratory Observation: the value as the lab reported it ("4.50" stays
    4.50: a decimal, never a float), its unit as UCUM, its range and interpretation."""
    rid = row["id"]
    test = lab_codes.tests().get(row["test"])
    unit = row.get("unit") or None
    codings = [{"system": c.LOINC, "code": row["loinc"],
                **({"display": test.display} if test and test.loinc_for(unit or "") == row["loinc"] else {})}] \
        if row.get("loinc") else []
    codings.append({"system": c.LAB_TEST, "code": row["test"]})
    value: dict[str, Any] = {}
    if row.get("value") not in (None, ""):
        number = _decimal(row["value"])
        value = {"valueQuantity": _quantity(number, unit)} if number is not None else {"valueString": str(row["value"])}
    elif row.get("coded"):
        answer = (test.answers.get(row["coded"]) if test else "") or ""
        answers = [{"system": c.LOINC, "code": answer, "display": row["coded"].capitalize()}] if answer else []
        value = {"valueCodeableConcept": {"coding": [*answers, {"system": c.LAB_ANSWER, "code": row["coded"]}],
                                          "text": row["coded"]}}
    elif row.get("text"):
        value = {"valueString": row["text"]}
    bounds = pruned({"low": _quantity(_decimal(row.get("range_low")), unit) if row.get("range_low") else None,
                      "high": _quantity(_decimal(row.get("range_high")), unit) if row.get("range_high") else None,
                      "text": row.get("range_text")})
    interpretation = row.get("interpretation")
    issued = row.get("issued") or ""
    extensions = []
    if issued and "T" not in issued:  # `issued` is an instant: a day alone goes in an extension
        extensions.append({"url": c.ISSUED_DAY, "valueDate": issued})
    if row.get("round_id"):
        extensions.append({"url": c.SCREENING_ROUND, "valueIdentifier": own("screening-round", row["round_id"])})
    return pruned({
        "resourceType": "Observation", "id": fhir_id(rid), "extension": extensions,
        "identifier": [own("lab-result", rid)],
        "status": "entered-in-error" if row.get("voided") else _mapped(
            {s: s for s in c.LAB_STATUSES}, row.get("status"), "status", f"Observation/{rid}"),
        "category": [concept(c.OBSERVATION_CATEGORY, "laboratory")],
        "code": pruned({"coding": codings, "text": test.name if test else row["test"]}),
        "subject": ref("Patient", row["patient_id"]),
        "effectiveDateTime": row.get("collected"),
        "issued": issued if "T" in issued else None,
        "performer": [{"display": row["lab"]}] if row.get("lab") else [],
        **value,
        "interpretation": [concept(c.INTERPRETATION, interpretation, c.INTERPRETATIONS.get(interpretation, ""))]
        if interpretation else [],
        "note": [{"text": row["note"]}] if row.get("note") else [],
        "specimen": {"identifier": own("sample", row["sample_id"])} if row.get("sample_id") else None,
        "referenceRange": [bounds] if bounds else [],
    })


def _lab_results(conn: Any, scope: Scope) -> Iterator[dict[str, Any]]:
    where, params = scope.where("l", "lab_results")
    for row in _rows(conn, f"SELECT l.* FROM lab_results l JOIN patients p ON p.id = l.patient_id WHERE {where} "
                           "ORDER BY l.id", params):
        yield lab_resource(row)


# -- immunizations ---------------------------------------------------------------------------------

def vaccine_code(code: str) -> dict[str, Any]:
    """A vaccine as ICD-11, ATC and WHO PreQual codings where the table has them, and its local code."""
    known = vaccines.vaccines().get(code)
    codings = []
    if known:
        codings += [{"system": c.ICD11, "code": known.icd11}] if known.icd11 else []
        codings += [{"system": c.ATC, "code": known.atc}] if known.atc else []
        codings += [{"system": c.PREQUAL, "code": product} for product in known.prequal]
    codings.append({"system": c.VACCINE, "code": code})
    return {"coding": codings, "text": known.name if known else code}


def _occurrence(text: str) -> dict[str, Any]:
    """A dose's day: a date, or a partial one ("2019", "2019-05": FHIR's dateTime keeps a partial
    date at its own precision, so a registry can still place it in a schedule), or, for what is
    not a date at all ("as a child"), the words as recorded."""
    if _PARTIAL_DATE.fullmatch(text or ""):
        return {"occurrenceDateTime": text}
    return {"occurrenceString": text or "unknown"}


def immunization_status(status: Any, primary_source: Any, label: str) -> str:
    # A not-given record that a dose given elsewhere later superseded is kept as `historical` but
    # recorded here: the history of a dose missed that day, not a dose (records/schedules.counts).
    if status == "historical" and primary_source:
        return "not-done"
    return _mapped(c.IMMUNIZATION_STATUS, status, "status", label)


def immunization_resource(row: Mapping[str, Any]) -> dict[str, Any]:
    """A dose given, given elsewhere (not a primary source; a year or a month is date enough),
    not given (and why), or entered in error."""
    iid, label = row["id"], f"Immunization/{row['id']}"
    status = immunization_status(row.get("status"), row.get("primary_source"), label)
    known = vaccines.vaccines().get(row.get("vaccine") or "")
    reason = row.get("reason") or ""
    # `reason` says why not given ("refused", "other: …"); of a dose given, why from an expired
    # lot; of one entered in error, why. Only the first is FHIR's statusReason.
    why = reason.split(":", 1)[0].strip() if status == "not-done" and reason else ""
    route, site = row.get("route") or "", row.get("site") or ""
    dose = _decimal(row.get("dose_quantity"))
    protocol = pruned({
        # fieldkit's `series` is the round of the series (2: restarted after a test said it did not work).
        "extension": [{"url": c.SERIES_ROUND, "valuePositiveInt": row["series"]}]
        if isinstance(row.get("series"), int) and row["series"] > 0 else [],
        "series": _series_name(row.get("vaccine") or ""), "doseNumberPositiveInt": row.get("dose_number"),
        "targetDisease": [{"text": disease} for disease in known.target_disease] if known else []})
    notes = [row.get("note"), row.get("early_reason"), None if why else reason]
    return pruned({
        "resourceType": "Immunization", "id": fhir_id(iid), "identifier": [own("immunization", iid)],
        "status": status,
        "statusReason": {"coding": [*([{"system": c.ACT_REASON, "code": c.NOT_GIVEN_ACT_REASON[why]}]
                                      if why in c.NOT_GIVEN_ACT_REASON else []),
                                    {"system": c.NOT_GIVEN, "code": why}], "text": reason} if why else None,
        "vaccineCode": vaccine_code(row.get("vaccine") or "unknown"),
        "patient": ref("Patient", row["patient_id"]),
        **_occurrence(row.get("occurred") or ""),
        "primarySource": bool(row["primary_source"]) if row.get("primary_source") is not None else None,
        "lotNumber": row.get("lot"), "expirationDate": row.get("lot_expiry"),
        "manufacturer": {"display": row["manufacturer"]} if row.get("manufacturer") else None,
        "site": pruned({"coding": [{"system": c.ACT_SITE, "code": c.SITE_CODES[site]}] if site in c.SITE_CODES else [],
                         "text": site}) if site else None,
        "route": pruned({"coding": [{"system": c.ROUTE, "code": c.ROUTE_CODES[route]}] if route in c.ROUTE_CODES else [],
                          "text": route}) if route else None,
        "doseQuantity": _quantity(dose, row.get("dose_unit")) if dose is not None else None,
        "location": {"display": row["location"]} if row.get("location") else None,
        "note": [{"text": text} for text in notes if text],
        "protocolApplied": [protocol] if "doseNumberPositiveInt" in protocol else [],
    })


def _series_name(vaccine: str) -> str | None:
    found = schedules.series_of(vaccine)
    return found[0][1].name if found else None


def _immunizations(conn: Any, scope: Scope) -> Iterator[dict[str, Any]]:
    where, params = scope.where("i", "immunizations")
    for row in _rows(conn, f"SELECT i.* FROM immunizations i JOIN patients p ON p.id = i.patient_id WHERE {where} "
                           "ORDER BY i.id", params):
        yield immunization_resource(row)


# -- the whole export ------------------------------------------------------------------------------

SECTIONS = (_patients, _encounters, _referrals, _enrolments, _lab_results, _immunizations)


def resources_of(conn: Any, *, since: Mapping[str, int] | None = None, patient_ids: Iterable[str] | None = None,
                 today: date | None = None) -> Iterator[dict[str, Any]]:
    """Every resource the export holds, one at a time, as plain dicts (decimals as Decimal)."""
    scope = Scope(conn, since, patient_ids)
    for section in SECTIONS:
        yield from section(conn, scope)
    yield from recommendations(conn, scope, today or date.today())


def stream(conn: Any, *, kind: str = "collection", since: Mapping[str, int] | None = None,
           patient_ids: Iterable[str] | None = None, validate: bool = True, today: date | None = None,
           counts: Counter[str] | None = None) -> Iterator[bytes]:
    """The export as one Bundle of `kind` (collection: a file to hand over; transaction: for a FHIR
    server), in chunks of JSON, never holding every resource. Each resource is checked (fhir_bindings,
    and the R4B model when `validate`) before it is written, and the references once all are out;
    a failure raises FieldkitError before the bundle's closing bytes. `since`: only what changed
    after the database held that version vector (`next_since` of an export before; an export since
    one is partial, so a reference may name a resource it left out). `counts` (if given) is filled
    with the resources written by type."""
    return fhir_bundle.write(resources_of(conn, since=since, patient_ids=patient_ids, today=today), kind=kind,
                             complete=since is None, validate=validate, counts=counts)


def recommendations(conn: Any, scope: Scope, today: date) -> Iterator[dict[str, Any]]:
    """What each schedule says next of each person holding a record of one of its vaccines: per
    series, the next dose (due or overdue, with its dates), or complete, or immune when the
    series' test says so. Derived as of `today`, by the very functions the due list uses."""
    where, params = scope.where("i", fhir_since.RECOMMENDED, key="patient_id")
    people = conn.execute(
        "SELECT DISTINCT i.patient_id, p.birth_date FROM immunizations i JOIN patients p ON p.id = i.patient_id "
        f"WHERE p.merged_into IS NULL AND p.voided IS NOT 1 AND {where} ORDER BY i.patient_id", params).fetchall()
    chosen = sorted(schedules.schedules().values(), key=lambda s: s.id)
    for patient_id, birth in people:
        held = immunity.held_doses(conn, patient_id, today)
        born = date.fromisoformat(birth) if birth else None
        for schedule in chosen:
            mine = [dose for dose in held if dose.vaccine in schedule.vaccines]
            # A schedule of ages (childhood) is for those of its ages; one for a list of people
            # (health staff), for those it has a record of.
            if not mine or (schedule.ages is not None and not schedule.for_age(born, today)):
                continue
            standing = {series.id: immunity.assess(series, mine, immunity.results_of(conn, patient_id, series.test.loinc))
                        for series in schedule.series if series.test is not None}
            restarted = {key: day for status in standing.values() for key, day in immunity.restarts(status).items()}
            states = schedules.derive(schedule, born or OLDEST_BIRTH, mine, today,
                                      restarts=restarted)
            found = [item for series in schedule.series
                     if (item := _recommended(series, states, standing.get(series.id)))]
            if found:
                yield {"resourceType": "ImmunizationRecommendation", "id": derived_id(patient_id, schedule.id),
                       "identifier": [own("schedule", schedule.ref)], "patient": ref("Patient", patient_id),
                       "date": today.isoformat(), "recommendation": found}


def _recommended(series: Any, states: list[Any], status: Any) -> dict[str, Any] | None:
    mine = [state for state in states if state.series == series.id]
    if not mine:
        return None
    latest = max(state.round for state in mine)
    current = [state for state in mine if state.round == latest]
    given = [state for state in current if state.dose_id]
    pending = next((state for state in current if state.state != schedules.COMPLETE), None)
    dates: list[tuple[tuple[str, str], date | None]] = []
    if status is not None and status.state == immunity.IMMUNE:
        forecast, number = "immune", len(given) or 1
    elif pending is None:
        forecast, number = "complete", current[-1].number
    elif pending.state in (schedules.DUE, schedules.OVERDUE, schedules.NOT_DUE_YET, schedules.TOO_EARLY):
        # Not yet due is still the dose to come, with the day it falls due.
        forecast = "overdue" if pending.state == schedules.OVERDUE else "due"
        number = pending.number
        dates = [(c.DUE, pending.due), (c.EARLIEST, pending.earliest)]
    else:
        return None  # past its age window (a birth dose): no longer recommended
    known = [vaccines.vaccines()[code] for code in series.vaccines if code in vaccines.vaccines()]
    diseases = sorted({disease for vaccine in known for disease in vaccine.target_disease})
    return pruned({
        "vaccineCode": [vaccine_code(code) for code in series.vaccines],
        "targetDisease": {"text": ", ".join(diseases)} if diseases else None,
        "forecastStatus": concept(c.FORECAST_STATUS, forecast),
        "dateCriterion": [{"code": concept(c.LOINC, code, display), "value": day.isoformat()}
                          for (code, display), day in dates if day is not None],
        "series": series.name, "doseNumberPositiveInt": number,
        "supportingImmunization": [ref("Immunization", state.dose_id) for state in given],
    })

