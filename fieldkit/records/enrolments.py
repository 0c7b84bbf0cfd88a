"""Programme work as journal changes: enrol, pause and resume, close with an outcome, check in,
and take a red check-in on (a transfer) or note that it needs none.

An enrolment is a mutable entity whose closing fields are safety fields (store/entities.py): two
laptops that close one enrolment differently both stay, for a supervisor. A check-in is
append-only, stores the alert level it reached and the rule set that read it, and is never
re-scored by a later table.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import Field, field_validator

from fieldkit.errors import FieldkitError
from fieldkit.i18n import _, day
from fieldkit.permissions import Write, require_write
from fieldkit.records import referral_services, site
from fieldkit.records.alerts import classify, load_ruleset
from fieldkit.records.checkins import CheckIn
from fieldkit.records.dates import parse_day
from fieldkit.records.ids import new_id
from fieldkit.records.models import Record, _text
from fieldkit.records.programmes import Programme, check_attributes, check_outcome, load_programmes
from fieldkit.records.services import _current, _update, validated
from fieldkit.store.db import Change, Transaction
from fieldkit.store.journal import parse
from fieldkit.store.keystore import User

ACTIVE = ("active", "paused")
# status -> the statuses it may move to; closing (completed) needs an outcome, cancelling a reason.
MOVES = {"active": ("paused", "completed", "cancelled"), "paused": ("active", "completed", "cancelled")}


@site.table
def programmes() -> dict[str, Programme]:
    own = site.directory()
    return load_programmes(own / "programmes" if own else None)


def programme(programme_id: str) -> Programme:
    found = programmes()
    if programme_id not in found:
        raise FieldkitError(_("no programme “{id}” (known: {known})").format(id=programme_id, known=", ".join(found)))
    return found[programme_id]


class Enrolment(Record):
    patient_id: str = Field(min_length=1)
    programme: str = Field(min_length=1)
    attributes: dict[str, str] = Field(default_factory=dict, max_length=30)
    enrolled_on: date = Field(default_factory=date.today)
    team: str = Field("", max_length=100)

    @field_validator("team", mode="before")
    @classmethod
    def _clean(cls, value: Any) -> Any:
        return "" if value is None else _text(value)

    @field_validator("enrolled_on", mode="before")
    @classmethod
    def _day(cls, value: Any) -> Any:
        return parse_day(value) if isinstance(value, str) else value

    @field_validator("enrolled_on")
    @classmethod
    def _not_future(cls, value: date) -> date:
        if value > date.today():
            raise ValueError(_("{day} is in the future").format(day=day(value)))
        return value


def _enrolment(tx: Transaction, enrolment_id: str) -> dict[str, Any]:
    cursor = tx.execute("SELECT * FROM enrolments WHERE id = ? AND voided IS NOT 1", (enrolment_id,))
    row = cursor.fetchone()
    if row is None:
        raise FieldkitError(_("no enrolment with id {id}").format(id=enrolment_id))
    found = dict(zip([c[0] for c in cursor.description], row))
    found["stays"] = parse(found["stays"]) if found.get("stays") else []
    return found


def enrol(tx: Transaction, user: User, data: Enrolment | dict[str, Any]) -> str:
    """Register a patient's file into a programme; a second active enrolment where the programme
    allows one is refused, as is a second enrolment where it allows only one ever."""
    require_write(user.role, Write("enrolment", "create"))
    enrolment = data if isinstance(data, Enrolment) else validated(Enrolment, data)
    chosen = programme(enrolment.programme)
    patient = _current(tx, enrolment.patient_id)
    if patient.get("merged_into") or patient.get("voided"):
        raise FieldkitError(_("this patient record is merged or voided; enrol the record that stays"))
    attributes = check_attributes(chosen, enrolment.attributes)
    held = tx.execute("SELECT status, enrolled_on FROM enrolments WHERE patient_id = ? AND programme = ? "
                      "AND voided IS NOT 1 AND status != 'cancelled'", (enrolment.patient_id, chosen.id)).fetchall()
    active = [since for status, since in held if status in ACTIVE]
    if chosen.one_active and active:
        raise FieldkitError(_("already enrolled in {programme} since {day}: close that enrolment first").format(
            programme=_(chosen.name), day=day(active[0])))
    if chosen.only_once and held:
        raise FieldkitError(_("{programme} enrols a patient only once").format(programme=_(chosen.name)))
    enrolment_id = new_id()
    fields = {"patient_id": enrolment.patient_id, "programme": chosen.id, "programme_version": chosen.version,
              "attributes": attributes, "status": "active", "enrolled_on": enrolment.enrolled_on.isoformat(),
              "team": enrolment.team}
    tx.append([Change("enrolment", enrolment_id, "create",
                      {"fields": {k: v for k, v in fields.items() if v not in ("", {}, None)}})], user=user.id)
    return enrolment_id


def move(tx: Transaction, user: User, enrolment_id: str, status: str, *, outcome: str = "", on: str | date | None = None,
         reason: str = "") -> None:
    """Pause (in hospital), resume, complete with an outcome, or cancel with a reason."""
    require_write(user.role, Write("enrolment", "update"))
    current = _enrolment(tx, enrolment_id)
    if status not in MOVES.get(current["status"], ()):
        raise FieldkitError(_("an enrolment that is {status} cannot become {new}").format(
            status=_(current["status"]), new=_(status)))
    when = parse_day(on) if isinstance(on, str) else on or date.today()
    if when > date.today():
        raise FieldkitError(_("{day} is in the future").format(day=day(when)))
    fields: dict[str, Any] = {"status": status}
    if status == "completed":
        if not outcome.strip():
            raise FieldkitError(_("closing an enrolment needs an outcome"))
        fields |= {"outcome": check_outcome(programme(current["programme"]), outcome), "outcome_date": when.isoformat()}
    if status == "cancelled" and not reason.strip():
        raise FieldkitError(_("cancelling an enrolment needs a reason"))
    stays = [list(stay) for stay in current["stays"]]
    if status == "paused":
        fields["stays"] = [*stays, [when.isoformat(), None]]
    elif current["status"] == "paused" and stays:  # back home, or closed from hospital: the stay ends
        stays[-1][1] = when.isoformat()
        fields["stays"] = stays
    tx.append([_update(tx, "enrolment", enrolment_id, fields, **({"reason": reason.strip()} if reason.strip() else {}))],
              user=user.id)


def check_in(tx: Transaction, user: User, data: CheckIn | dict[str, Any]) -> tuple[str, str]:
    """Record one check-in; returns its id and the alert level it reached (none, amber, red)."""
    require_write(user.role, Write("checkin", "create"))
    checkin = data if isinstance(data, CheckIn) else validated(CheckIn, data)
    enrolment = _enrolment(tx, checkin.enrolment_id)
    if enrolment["status"] != "active":
        raise FieldkitError(_("this enrolment is {status}: check-ins are for active ones").format(
            status=_(enrolment["status"])))
    rule = programme(enrolment["programme"]).checkin
    if rule is None:
        raise FieldkitError(_("this programme has no check-ins"))
    if not date.fromisoformat(enrolment["enrolled_on"]) <= checkin.day <= date.today():
        raise FieldkitError(_("a check-in's day is from the enrolment ({first}) to today").format(
            first=day(enrolment["enrolled_on"])))
    ruleset = load_ruleset(rule.ruleset)
    alert = classify(ruleset, checkin.readings(), checkin.symptoms)
    checkin_id = new_id()
    payload = {**checkin.model_dump(mode="json", exclude_none=True), "patient_id": enrolment["patient_id"],
               "alert": {"level": alert.level, "ruleset": alert.ruleset}}
    tx.append([Change("checkin", checkin_id, "create", payload)], user=user.id)
    return checkin_id, alert.level


def _red(tx: Transaction, checkin_id: str) -> tuple[str, str]:
    row = tx.execute("SELECT enrolment_id, patient_id, alert FROM checkins WHERE id = ?", (checkin_id,)).fetchone()
    if row is None:
        raise FieldkitError(_("no check-in with id {id}").format(id=checkin_id))
    if row[2] != "red":
        raise FieldkitError(_("only a red check-in is escalated"))
    if tx.execute("SELECT 1 FROM referrals WHERE escalated_from = ?", (checkin_id,)).fetchone() or tx.execute(
            "SELECT 1 FROM checkin_reviews WHERE checkin_id = ?", (checkin_id,)).fetchone():
        raise FieldkitError(_("this escalation has been taken on already"))
    return row[0], row[1]


def transfer(tx: Transaction, user: User, checkin_id: str, to_facility: str, reason: str) -> str:
    """A doctor accepts a red check-in: an urgent transfer referral linked to it, and the
    enrolment paused while the patient is in hospital. Returns the referral's id."""
    enrolment_id, patient_id = _red(tx, checkin_id)
    referral_id = referral_services.refer(tx, user, {
        "patient_id": patient_id, "kind": "transfer", "to_facility": to_facility, "urgency": "urgent",
        "reason": reason, "escalated_from": checkin_id, "enrolment_id": enrolment_id})
    if _enrolment(tx, enrolment_id)["status"] == "active":
        move(tx, user, enrolment_id, "paused")
    return referral_id


def no_transfer(tx: Transaction, user: User, checkin_id: str, note: str) -> None:
    """A doctor reviewed a red check-in and keeps the patient at home: said, with why."""
    require_write(user.role, Write("checkin", "review"))
    if not note.strip():
        raise FieldkitError(_("say why the patient stays at home"))
    _red(tx, checkin_id)
    tx.append([Change("checkin", checkin_id, "review", {"note": note.strip()})], user=user.id)
