"""A referral as validated data: the request, the clinical snapshot it carries, and its events.

The request is what the referring unit asks (who, where to, how urgently, why) with a snapshot of
the patient as they were when referred, so the receiving specialist, the letter and the export all
read what the referrer saw, not whatever the chart says later. What then happens to it is a list
of events (store/lifecycle.py derives the status from them).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from fieldkit.i18n import _
from fieldkit.records import facilities as facility_list
from fieldkit.records.dates import parse_day
from fieldkit.records.models import _ICD10, Record, Urgency, _optional_text, _text
from fieldkit.store.lifecycle import EVENTS, NOT_ATTENDED_REASONS

Kind = Literal["referral", "econsult", "transfer"]
# Days from the request to the expected arrival, by urgency; after it, the referral is overdue.
EXPECTED_DAYS = {"emergency": 1, "urgent": 3, "routine": 14}
NO_KNOWN_ALLERGIES = "none known"


class ReferralRequest(Record):
    patient_id: str = Field(min_length=1)
    encounter_id: str | None = None
    kind: Kind = "referral"
    to_facility: str = Field(min_length=1, max_length=200)
    to_service: str = Field("", max_length=100)
    urgency: Urgency = "routine"
    reason: str = Field("", max_length=1000)
    reason_code: str | None = None  # ICD-10
    history: str = Field("", max_length=2000)
    tests_done: str = Field("", max_length=1000)
    medicines: list[str] = Field(default_factory=list, max_length=30)
    no_known_allergies: bool = False
    needs_approval: bool = False  # a board must approve before the treatment letter prints
    escalated_from: str | None = None  # the red check-in a doctor accepted
    enrolment_id: str | None = None
    follows: str | None = None  # the e-consultation or redirected referral this one continues

    @field_validator("to_facility", "to_service", "reason", "history", "tests_done", mode="before")
    @classmethod
    def _clean(cls, value: Any) -> Any:
        return "" if value is None else _text(value)

    @field_validator("reason_code", "encounter_id", "escalated_from", "enrolment_id", "follows", mode="before")
    @classmethod
    def _optional(cls, value: Any) -> Any:
        return _optional_text(value)

    @field_validator("reason_code")
    @classmethod
    def _icd10(cls, value: str | None) -> str | None:
        if value and not _ICD10.fullmatch(value.upper()):
            raise ValueError(_("“{typed}” is not an ICD-10 code (like J18.9)").format(typed=value))
        return value.upper() if value else None

    @field_validator("medicines", mode="before")
    @classmethod
    def _list(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.split(",")
        return [item for item in (_text(str(v)) for v in value or ()) if item] if isinstance(value, (list, tuple, str)) else value


class EventDetails(Record):
    """What one event says besides its type. Which details an event needs is checked here, so
    the screen and the command line refuse the same things with the same words."""

    type: Literal[EVENTS]  # type: ignore[valid-type]
    facility: str = Field("", max_length=200)  # where it happened
    note: str = Field("", max_length=2000)
    board_reference: str = Field("", max_length=100)
    reason: str = ""  # not attended: one of NOT_ATTENDED_REASONS
    redirected_to: str = Field("", max_length=200)
    findings: str = Field("", max_length=3000)
    diagnosis: str = Field("", max_length=500)
    treatment: str = Field("", max_length=2000)
    recommendations: str = Field("", max_length=3000)
    follow_up: date | None = None
    travel: bool = False  # an e-consultation's answer: the patient should come in person

    @field_validator("facility", "note", "board_reference", "reason", "redirected_to", "findings", "diagnosis",
                     "treatment", "recommendations", mode="before")
    @classmethod
    def _clean(cls, value: Any) -> Any:
        return "" if value is None else _text(value)

    @field_validator("follow_up", mode="before")
    @classmethod
    def _day(cls, value: Any) -> Any:
        value = _optional_text(value)
        return parse_day(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _needs(self) -> "EventDetails":
        if self.type in ("approved", "declined") and not self.board_reference:
            raise ValueError(_("a board's decision needs its reference"))
        if self.type == "not_attended":
            if self.reason not in NOT_ATTENDED_REASONS:
                raise ValueError(_("why was it not attended? one of {reasons}").format(
                    reasons=", ".join(NOT_ATTENDED_REASONS)))
            if self.reason == "other" and not self.note:
                raise ValueError(_("“other” needs a note saying what happened"))
        if self.type == "redirected" and not self.redirected_to:
            raise ValueError(_("a redirection needs the facility it goes to"))
        if self.type == "feedback" and not (self.findings or self.recommendations):
            raise ValueError(_("feedback needs the findings or the recommendations"))
        if self.follow_up is not None and self.follow_up < date.today():
            raise ValueError(_("the follow-up day is already past"))
        return self

    def to_fields(self) -> dict[str, Any]:
        return {name: value for name, value in self.model_dump(mode="json", exclude={"type"}).items()
                if value not in (None, "", False)}


def expected_by(urgency: str, on: date) -> date:
    return on + timedelta(days=EXPECTED_DAYS[urgency])


def number(from_facility: str, referral_id: str, on: date) -> str:
    """The number staff quote on the phone and print on the letter: the referring facility, the
    year and the random tail of the id, so two laptops never hand out the same one."""
    return f"{from_facility or 'REF'}-{on.year}-{referral_id[-6:]}"


def snapshot(request: ReferralRequest, patient: dict[str, Any], encounter: dict[str, Any] | None) -> dict[str, Any]:
    """The patient as the referrer saw them: the encounter's vitals, scores, diagnoses and
    treatment, the patient's allergies, the medicines. Kept with the request, never re-read."""
    encounter = encounter or {}
    scores = encounter.get("scores", {})
    allergies = list(patient.get("allergies") or ())
    if not allergies and request.no_known_allergies:
        allergies = [NO_KNOWN_ALLERGIES]
    prescriptions = [" ".join(str(p.get(part, "")) for part in ("drug", "dose", "route", "frequency") if p.get(part))
                     for p in encounter.get("prescriptions", ())]
    return {
        "vitals": encounter.get("vitals", {}),
        "news2": {k: v for k, v in (scores.get("news2") or {}).items() if k in ("total", "band", "complete")},
        "qsofa": (scores.get("qsofa") or {}).get("total"),
        "diagnoses": encounter.get("diagnoses", []),
        "treatment": prescriptions,
        "medicines": request.medicines or prescriptions,
        "allergies": allergies,
        "history": request.history or encounter.get("notes", ""),
        "tests_done": request.tests_done,
        "birth_date": patient.get("birth_date"),
        "sex": patient.get("sex", "unknown"),
    }


def here(conn: Any) -> str:
    """The facility this laptop works at (`fieldkit referral here CODE`); '' until set."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'facility'").fetchone()
    return str(row[0]) if row else ""


def request_fields(request: ReferralRequest, patient: dict[str, Any], encounter: dict[str, Any] | None, *,
                   referral_id: str, from_facility: str, on: date
                   ) -> dict[str, Any]:
    """The referral entity's fields: the request with its facility codes, number, expected day and snapshot."""
    listed = facility_list.find(request.to_facility)
    fields = request.model_dump(mode="json", exclude={"history", "tests_done", "medicines", "no_known_allergies"})
    fields |= {"to_facility": listed.code if listed else request.to_facility, "from_facility": from_facility,
               "number": number(from_facility, referral_id, on),
               "expected_by": expected_by(request.urgency, on).isoformat(),
               "snapshot": snapshot(request, patient, encounter)}
    return {name: value for name, value in fields.items() if value not in (None, "", False)}
