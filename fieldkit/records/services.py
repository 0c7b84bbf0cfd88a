"""What clinic staff do, as journal changes: register, edit, record, amend, void, merge, resolve.

Each use case is a function of one write transaction and the signed-in user: it checks the
user's role, validates what was typed (bad input raises a one-line error and writes nothing),
reads the state it changes and appends its changes, all inside the transaction, so another
process cannot change that state between the check and the save. `Clinic` runs them for the
command line and the tests; the clinic screen's `Desk` awaits the very same functions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

import pydantic

from fieldkit.errors import FieldkitError
from fieldkit.i18n import _
from fieldkit.permissions import Write, require, require_write
from fieldkit.records import queries, search
from fieldkit.records.duplicates import Match, likely_duplicates
from fieldkit.records.ids import new_id
from fieldkit.records.models import Encounter, FollowUp, Patient, age_in_years, describe_error
from fieldkit.records.referrals import ReferralRequest, here, request_fields
from fieldkit.records.scores import Score, news2, qsofa
from fieldkit.store.db import Change, Store, Transaction
from fieldkit.store.fold import field_versions
from fieldkit.store.keystore import User
from fieldkit.text import clean_text

T = TypeVar("T")
FOLLOWUP_STATUSES = frozenset({"open", "done", "cancelled"})


@dataclass(frozen=True)
class Registration:
    patient_id: str
    duplicates: list[Match]


@dataclass(frozen=True)
class RecordedEncounter:
    encounter_id: str
    news2: Score
    qsofa: Score
    warnings: tuple[str, ...] = ()  # alarming readings, saved as typed: worth a second look


def validated(model: type[pydantic.BaseModel], data: Any) -> Any:
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise FieldkitError(describe_error(exc)) from None


def _score_fields(score: Score) -> dict[str, Any]:
    return {"total": score.total, "band": score.band, "parts": score.parts, "version": score.version,
            "complete": score.complete, "missing": list(score.missing)}


def registration(patient: Patient, *, duplicates: Sequence[str] = (), reason: str = "") -> Change:
    """The journal change that registers a new patient."""
    payload: dict[str, Any] = {"fields": patient.to_fields()}
    if duplicates:
        payload["possible_duplicates"] = list(duplicates)
        payload["reason"] = reason
    return Change("patient", new_id(), "create", payload)


def encounter_changes(encounter: Encounter, *, age_years: float | None = None, patient: dict[str, Any] | None = None,
                      from_facility: str = "", on: date | None = None) -> tuple[RecordedEncounter, list[Change]]:
    """The encounter with its scores, plus its referral (with the snapshot of what was recorded)
    and follow-up as tasks of their own."""
    early = news2(encounter.vitals, hypercapnic=encounter.hypercapnic, age_years=age_years)
    sepsis = qsofa(encounter.vitals)
    encounter_id = new_id()
    changes = [Change("encounter", encounter_id, "create", {
        **encounter.to_fields(), "scores": {"news2": _score_fields(early), "qsofa": _score_fields(sepsis)}})]
    links = {"patient_id": encounter.patient_id, "encounter_id": encounter_id}
    if encounter.referral:
        request = ReferralRequest.model_validate({**links, **encounter.referral.model_dump(mode="json")})
        referral_id = new_id()
        changes.append(Change("referral", referral_id, "create", {"fields": request_fields(
            request, patient or {}, dict(changes[0].payload), referral_id=referral_id, from_facility=from_facility,
            on=on or date.today())}))
    if encounter.follow_up:
        changes.append(Change("followup", new_id(), "create", {"fields": {
            **links, "status": "open", **encounter.follow_up.model_dump(mode="json")}}))
    return RecordedEncounter(encounter_id, early, sepsis, tuple(encounter.vitals.warnings())), changes


def _current(db: Any, patient_id: str) -> dict[str, Any]:
    fields = queries.patient_fields(db, patient_id)
    if fields is None:
        raise FieldkitError(_("no patient with id {id}").format(id=patient_id))
    return fields


def _update(tx: Transaction, entity: str, entity_id: str, fields: dict[str, Any], **extra: Any) -> Change:
    """An update recording, for each field, the version its author saw (what the fold compares)."""
    versions = field_versions(tx, entity_id)
    return Change(entity, entity_id, "update",
                  {"fields": fields, "base": {name: versions.get(name, "") for name in fields}, **extra})


# -- patients --------------------------------------------------------------------------------------

def register(tx: Transaction, user: User, patient: Patient | dict[str, Any], *, reason: str = "") -> Registration:
    """Save a new patient; likely duplicates come back as a warning, the save happens anyway."""
    require(user.role, "register")
    patient = patient if isinstance(patient, Patient) else validated(Patient, patient)
    duplicates = likely_duplicates(tx, patient)
    change = registration(patient, duplicates=[m.patient.id for m in duplicates], reason=reason)
    tx.append([change], user=user.id)
    return Registration(change.entity_id, duplicates)


def edit(tx: Transaction, user: User, patient_id: str, changes: dict[str, Any]) -> list[str]:
    """Change demographics; returns the fields that really changed (none: nothing written)."""
    require(user.role, "edit patient")
    unknown = set(changes) - set(Patient.model_fields) or set(changes) & {"merged_into", "voided"}
    if unknown:
        raise FieldkitError(_("cannot edit {fields} here").format(fields=", ".join(sorted(unknown))))
    current = _current(tx, patient_id)
    updated = validated(Patient, {**current, **changes}).to_fields()
    changed = {name: value for name, value in updated.items() if current.get(name) != value}
    changed |= {name: None for name in current if name not in updated and name in changes}
    if changed:
        tx.append([_update(tx, "patient", patient_id, changed)], user=user.id)
    return sorted(changed)


def void(tx: Transaction, user: User, patient_id: str, reason: str) -> None:
    require(user.role, "void patient")
    _current(tx, patient_id)
    if not reason.strip():
        raise FieldkitError(_("voiding a patient needs a reason"))
    tx.append([_update(tx, "patient", patient_id, {"voided": True}, reason=reason)], user=user.id)


def merge(tx: Transaction, user: User, duplicate_id: str, survivor_id: str) -> None:
    """Point a duplicate at the record that stays; reversible with `unmerge`, nothing deleted."""
    require(user.role, "merge patients")
    if duplicate_id == survivor_id:
        raise FieldkitError(_("a patient cannot be merged into itself"))
    _current(tx, duplicate_id)
    if _current(tx, survivor_id).get("merged_into"):
        raise FieldkitError(_("{id} is itself merged; merge into the record it points to").format(id=survivor_id))
    tx.append([_update(tx, "patient", duplicate_id, {"merged_into": survivor_id})], user=user.id)


def unmerge(tx: Transaction, user: User, duplicate_id: str) -> None:
    require(user.role, "merge patients")
    if not _current(tx, duplicate_id).get("merged_into"):
        raise FieldkitError(_("{id} is not merged").format(id=duplicate_id))
    tx.append([_update(tx, "patient", duplicate_id, {"merged_into": None})], user=user.id)


def resolve_conflict(tx: Transaction, user: User, conflict_id: str, value: Any, reason: str) -> None:
    """A supervisor's choice for a conflicting field: a new write that supersedes both sides."""
    require(user.role, "resolve conflict")
    if not reason.strip():
        raise FieldkitError(_("resolving a conflict needs a reason"))
    found = [c for c in queries.conflicts(tx) if c["id"] == conflict_id]
    if not found:
        raise FieldkitError(_("no open conflict with id {id}").format(id=conflict_id))
    conflict = found[0]
    current = _current(tx, conflict["patient_id"])
    fields = validated(Patient, {**current, conflict["field"]: value}).to_fields()
    tx.append([_update(tx, "patient", conflict["patient_id"], {conflict["field"]: fields.get(conflict["field"])},
                       resolves=[conflict_id], reason=reason)], user=user.id)


# -- encounters and tasks --------------------------------------------------------------------------

def record_encounter(tx: Transaction, user: User, encounter: Encounter | dict[str, Any]) -> RecordedEncounter:
    """Save an encounter with its scores, and its referral and follow-up as their own tasks."""
    require(user.role, "record encounter")
    encounter = encounter if isinstance(encounter, Encounter) else validated(Encounter, encounter)
    patient = _current(tx, encounter.patient_id)
    if patient.get("merged_into"):
        raise FieldkitError(_("this patient was merged into {id}; record there").format(id=patient["merged_into"]))
    if patient.get("voided"):
        raise FieldkitError(_("this patient record is voided"))
    birth = patient.get("birth_date")
    age = age_in_years(date.fromisoformat(birth)) if birth else None
    recorded, changes = encounter_changes(encounter, age_years=age, patient=patient, from_facility=here(tx))
    tx.append(changes, user=user.id)
    return recorded


def amend(tx: Transaction, user: User, encounter_id: str, note: str) -> None:
    """Add a correction to a saved encounter; the original stays as it was recorded."""
    _annotate(tx, user, encounter_id, "amend", note, _("an amendment needs a note"))


def entered_in_error(tx: Transaction, user: User, encounter_id: str, reason: str) -> None:
    """Mark a saved encounter as entered in error; it stays in the record, struck through."""
    _annotate(tx, user, encounter_id, "entered_in_error", reason, _("marking an encounter entered in error needs a reason"))


def _annotate(tx: Transaction, user: User, encounter_id: str, op: str, value: str, needed: str) -> None:
    require_write(user.role, Write("encounter", op))
    if not clean_text(value):
        raise FieldkitError(needed)
    if not tx.execute("SELECT 1 FROM encounters WHERE id = ?", (encounter_id,)).fetchone():
        raise FieldkitError(_("no encounter with id {id}").format(id=encounter_id))
    if op == "entered_in_error" and tx.execute(
            "SELECT 1 FROM amendments WHERE encounter_id = ? AND kind = ?", (encounter_id, op)).fetchone():
        raise FieldkitError(_("this encounter is marked entered in error already"))
    name = "note" if op == "amend" else "reason"
    tx.append([Change("encounter", encounter_id, op, {name: clean_text(value)})], user=user.id)


def _followup(tx: Transaction, followup_id: str) -> dict[str, Any]:
    row = tx.execute("SELECT status, due FROM followups WHERE id = ?", (followup_id,)).fetchone()
    if row is None:
        raise FieldkitError(_("no follow-up with id {id}").format(id=followup_id))
    return {"status": row[0], "due": row[1]}


def set_followup_status(tx: Transaction, user: User, followup_id: str, status: str) -> None:
    """Close a follow-up ('done', 'cancelled') or open it again. (A referral moves by its events:
    referral_services.record_event.)"""
    require_write(user.role, Write("followup", "update", ("status",)))
    if status not in FOLLOWUP_STATUSES:
        raise FieldkitError(_("the status must be one of {statuses}").format(statuses=", ".join(sorted(FOLLOWUP_STATUSES))))
    if _followup(tx, followup_id)["status"] != status:
        tx.append([_update(tx, "followup", followup_id, {"status": status})], user=user.id)


def reschedule(tx: Transaction, user: User, followup_id: str, due: str | date) -> None:
    """Move an open follow-up to another day, today or later."""
    require_write(user.role, Write("followup", "update", ("due",)))
    task = _followup(tx, followup_id)
    if task["status"] != "open":
        raise FieldkitError(_("only an open follow-up can be rescheduled"))
    day = validated(FollowUp, {"due": due}).due
    if day < date.today():
        raise FieldkitError(_("{day} is already past: a follow-up is rescheduled to today or later").format(
            day=day.isoformat()))
    if day.isoformat() != task["due"]:
        tx.append([_update(tx, "followup", followup_id, {"due": day.isoformat()})], user=user.id)


class Clinic:
    """The clinic as one signed-in user sees it, synchronously: for the command line and tests."""

    def __init__(self, store: Store, user: User) -> None:
        self.store = store
        self.user = user

    def run(self, use_case: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Any use case of one transaction and the user (referral_services.refer, ...)."""
        return self.store.write(lambda tx: use_case(tx, self.user, *args, **kwargs))

    _write = run

    def register(self, patient: Patient | dict[str, Any], *, reason: str = "") -> Registration:
        return self._write(register, patient, reason=reason)

    def edit(self, patient_id: str, changes: dict[str, Any]) -> list[str]:
        return self._write(edit, patient_id, changes)

    def void(self, patient_id: str, reason: str) -> None:
        self._write(void, patient_id, reason)

    def merge(self, duplicate_id: str, survivor_id: str) -> None:
        self._write(merge, duplicate_id, survivor_id)

    def unmerge(self, duplicate_id: str) -> None:
        self._write(unmerge, duplicate_id)

    def resolve_conflict(self, conflict_id: str, value: Any, reason: str) -> None:
        self._write(resolve_conflict, conflict_id, value, reason)

    def patient(self, patient_id: str) -> dict[str, Any]:
        return self._write(queries.open_patient, patient_id)

    def record_encounter(self, encounter: Encounter | dict[str, Any]) -> RecordedEncounter:
        return self._write(record_encounter, encounter)

    def amend(self, encounter_id: str, note: str) -> None:
        self._write(amend, encounter_id, note)

    def entered_in_error(self, encounter_id: str, reason: str) -> None:
        self._write(entered_in_error, encounter_id, reason)

    def set_followup_status(self, followup_id: str, status: str) -> None:
        self._write(set_followup_status, followup_id, status)

    def reschedule(self, followup_id: str, due: str | date) -> None:
        self._write(reschedule, followup_id, due)

    def duplicates_of(self, patient: Patient, *, exclude: str = "") -> list[Match]:
        return self.store.read(lambda conn: likely_duplicates(conn, patient, exclude=exclude))

    def search(self, query: str, *, limit: int = 20, offset: int = 0) -> list[search.PatientSummary]:
        return self.store.read(lambda conn: search.search(conn, query, limit=limit, offset=offset))
