"""What clinic staff do, as journal changes: register, edit, record, amend, void, merge, resolve.

Every method validates first (bad input raises a one-line error and writes nothing), checks the
user's role, then appends all its changes in one transaction. Reads that show a patient's record
are audited before the record is returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pydantic

from fieldkit.errors import FieldkitError
from fieldkit.records import queries, search
from fieldkit.records.duplicates import Match, likely_duplicates
from fieldkit.records.ids import new_id
from fieldkit.records.models import Encounter, Patient, age_in_years, describe_error
from fieldkit.records.roles import require
from fieldkit.records.scores import Score, news2, qsofa
from fieldkit.store.db import Change, Store
from fieldkit.store.fold import field_versions
from fieldkit.store.keystore import User
from fieldkit.text import clean_text


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


def registration(patient: Patient, *, duplicates: list[str] = (), reason: str = "") -> Change:
    """The journal change that registers a new patient."""
    payload: dict[str, Any] = {"fields": patient.to_fields()}
    if duplicates:
        payload["possible_duplicates"] = list(duplicates)
        payload["reason"] = reason
    return Change("patient", new_id(), "create", payload)


def encounter_changes(encounter: Encounter, *, age_years: float | None = None) -> tuple[RecordedEncounter, list[Change]]:
    """The encounter with its scores, plus its referral and follow-up as tasks of their own."""
    early = news2(encounter.vitals, hypercapnic=encounter.hypercapnic, age_years=age_years)
    sepsis = qsofa(encounter.vitals)
    encounter_id = new_id()
    changes = [Change("encounter", encounter_id, "create", {
        **encounter.to_fields(), "scores": {"news2": _score_fields(early), "qsofa": _score_fields(sepsis)}})]
    links = {"patient_id": encounter.patient_id, "encounter_id": encounter_id}
    if encounter.referral:
        changes.append(Change("referral", new_id(), "create", {"fields": {
            **links, "status": "pending", **encounter.referral.model_dump(mode="json")}}))
    if encounter.follow_up:
        changes.append(Change("followup", new_id(), "create", {"fields": {
            **links, "status": "open", **encounter.follow_up.model_dump(mode="json")}}))
    return RecordedEncounter(encounter_id, early, sepsis, tuple(encounter.vitals.warnings())), changes


class Clinic:
    """The clinic as one signed-in user sees it."""

    def __init__(self, store: Store, user: User) -> None:
        self.store = store
        self.user = user

    def _append(self, changes: list[Change]) -> None:
        self.store.append(changes, user=self.user.id)

    def _current(self, patient_id: str) -> dict[str, Any]:
        fields = self.store.read(lambda conn: queries.patient_fields(conn, patient_id))
        if fields is None:
            raise FieldkitError(f"no patient with id {patient_id}")
        return fields

    def _update(self, entity: str, entity_id: str, fields: dict[str, Any], **extra: Any) -> Change:
        versions = self.store.read(lambda conn: field_versions(conn, entity_id))
        return Change(entity, entity_id, "update",
                      {"fields": fields, "base": {name: versions.get(name, "") for name in fields}, **extra})

    # -- patients --------------------------------------------------------------------------------

    def duplicates_of(self, patient: Patient, *, exclude: str = "") -> list[Match]:
        return self.store.read(lambda conn: likely_duplicates(conn, patient, exclude=exclude))

    def register(self, patient: Patient | dict[str, Any], *, reason: str = "") -> Registration:
        """Save a new patient; likely duplicates come back as a warning, the save happens anyway."""
        require(self.user.role, "register")
        patient = patient if isinstance(patient, Patient) else validated(Patient, patient)
        duplicates = self.duplicates_of(patient)
        change = registration(patient, duplicates=[m.patient.id for m in duplicates], reason=reason)
        self._append([change])
        return Registration(change.entity_id, duplicates)

    def edit(self, patient_id: str, changes: dict[str, Any]) -> list[str]:
        """Change demographics; returns the fields that really changed (none: nothing written)."""
        require(self.user.role, "edit patient")
        unknown = set(changes) - set(Patient.model_fields) or set(changes) & {"merged_into", "voided"}
        if unknown:
            raise FieldkitError(f"cannot edit {', '.join(sorted(unknown))} here")
        current = self._current(patient_id)
        updated = validated(Patient, {**current, **changes}).to_fields()
        changed = {name: value for name, value in updated.items() if current.get(name) != value}
        changed |= {name: None for name in current if name not in updated and name in changes}
        if changed:
            self._append([self._update("patient", patient_id, changed)])
        return sorted(changed)

    def void(self, patient_id: str, reason: str) -> None:
        require(self.user.role, "void patient")
        self._current(patient_id)
        if not reason.strip():
            raise FieldkitError("voiding a patient needs a reason")
        self._append([self._update("patient", patient_id, {"voided": True}, reason=reason)])

    def merge(self, duplicate_id: str, survivor_id: str) -> None:
        """Point a duplicate at the record that stays; reversible with `unmerge`, nothing deleted."""
        require(self.user.role, "merge patients")
        if duplicate_id == survivor_id:
            raise FieldkitError("a patient cannot be merged into itself")
        self._current(duplicate_id)
        if self._current(survivor_id).get("merged_into"):
            raise FieldkitError(f"{survivor_id} is itself merged; merge into the record it points to")
        self._append([self._update("patient", duplicate_id, {"merged_into": survivor_id})])

    def unmerge(self, duplicate_id: str) -> None:
        require(self.user.role, "merge patients")
        if not self._current(duplicate_id).get("merged_into"):
            raise FieldkitError(f"{duplicate_id} is not merged")
        self._append([self._update("patient", duplicate_id, {"merged_into": None})])

    def resolve_conflict(self, conflict_id: str, value: Any, reason: str) -> None:
        """A supervisor's choice for a conflicting field: a new write that supersedes both sides."""
        require(self.user.role, "resolve conflict")
        if not reason.strip():
            raise FieldkitError("resolving a conflict needs a reason")
        found = [c for c in self.store.read(lambda conn: queries.conflicts(conn)) if c["id"] == conflict_id]
        if not found:
            raise FieldkitError(f"no open conflict with id {conflict_id}")
        conflict = found[0]
        current = self._current(conflict["patient_id"])
        fields = validated(Patient, {**current, conflict["field"]: value}).to_fields()
        self._append([self._update("patient", conflict["patient_id"],
                                   {conflict["field"]: fields.get(conflict["field"])},
                                   resolves=[conflict_id], reason=reason)])

    def patient(self, patient_id: str) -> dict[str, Any]:
        """A patient's whole record; opening it is audited first."""
        self.store.record_view(self.user.id, patient_id)
        record = self.store.read(lambda conn: queries.patient_record(conn, patient_id))
        if record is None:
            raise FieldkitError(f"no patient with id {patient_id}")
        return record

    def search(self, query: str, *, limit: int = 20, offset: int = 0) -> list[search.PatientSummary]:
        return self.store.read(lambda conn: search.search(conn, query, limit=limit, offset=offset))

    # -- encounters ------------------------------------------------------------------------------

    def record_encounter(self, encounter: Encounter | dict[str, Any]) -> RecordedEncounter:
        """Save an encounter with its scores, and its referral and follow-up as their own tasks."""
        require(self.user.role, "record encounter")
        encounter = encounter if isinstance(encounter, Encounter) else validated(Encounter, encounter)
        patient = self._current(encounter.patient_id)
        if patient.get("merged_into"):
            raise FieldkitError(f"this patient was merged into {patient['merged_into']}; record there")
        if patient.get("voided"):
            raise FieldkitError("this patient record is voided")
        birth = patient.get("birth_date")
        age = age_in_years(date.fromisoformat(birth)) if birth else None
        recorded, changes = encounter_changes(encounter, age_years=age)
        self._append(changes)
        return recorded

    def amend(self, encounter_id: str, note: str) -> None:
        """Add a correction to a saved encounter; the original stays as it was recorded."""
        self._annotate(encounter_id, "amend", note=note)

    def entered_in_error(self, encounter_id: str, reason: str) -> None:
        """Mark a saved encounter as entered in error; it stays in the record, struck through."""
        self._annotate(encounter_id, "entered_in_error", reason=reason)

    def _annotate(self, encounter_id: str, op: str, **text: str) -> None:
        require(self.user.role, "amend encounter")
        [(name, value)] = text.items()
        if not clean_text(value):
            raise FieldkitError(f"{op.replace('_', ' ')} needs a {name}")
        if not self.store.read(lambda conn: conn.execute("SELECT 1 FROM encounters WHERE id = ?",
                                                          (encounter_id,)).fetchone()):
            raise FieldkitError(f"no encounter with id {encounter_id}")
        self._append([Change("encounter", encounter_id, op, {name: clean_text(value)})])

    def set_task_status(self, entity: str, task_id: str, status: str) -> None:
        """Close a follow-up ('done', 'cancelled') or move a referral ('sent', 'arrived', 'cancelled')."""
        require(self.user.role, "update task")
        allowed = {"followup": {"open", "done", "cancelled"},
                   "referral": {"pending", "sent", "arrived", "cancelled"}}[entity]
        if status not in allowed:
            raise FieldkitError(f"{entity} status must be one of {', '.join(sorted(allowed))}")
        table = {"followup": "followups", "referral": "referrals"}[entity]
        if not self.store.read(lambda conn: conn.execute(f"SELECT 1 FROM {table} WHERE id = ?", (task_id,)).fetchone()):
            raise FieldkitError(f"no {entity} with id {task_id}")
        self._append([self._update(entity, task_id, {"status": status})])
