"""Vaccinations as journal changes: a dose given, a dose not given (and why), a dose given
elsewhere, a record entered in error or corrected, and the vaccine lots doses are given from.

An immunization is a mutable entity whose status, date, vaccine and dose number are safety fields
(store/entities.py): a correction is a new write, the old value stays in the journal, and two
laptops changing one dose at once wait for a supervisor. Statuses, as Tamanu keeps them:

- `given`: given here, a primary source. Without a lot it is saved, with a warning; from a lot
  expired on the day it was given, only with a reason (`reason`).
- `not-given`: due but not given, with a reason from a list. When that dose is given later, the
  not-given record becomes `historical` and stays a primary source: history, not a dose.
- `historical`: given elsewhere (not a primary source); a year or a month is date enough, no lot needed.
- `entered-in-error`: stays, marked, with why (`reason`); leaves every calculation.

The dose number is derived from the series (schedules.derive), never typed: a typed number that
disagrees is refused. A dose given before its minimum interval or age is saved only with
`early_reason`, and the derivation keeps flagging it. Dates: not before birth, not in the future.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from pydantic import Field, field_validator

from fieldkit.errors import FieldkitError
from fieldkit.i18n import N_, _, day, number
from fieldkit.permissions import Write, require_write
from fieldkit.records import immunity, schedules
from fieldkit.records.dates import DateProblem, parse_day
from fieldkit.records.ids import new_id
from fieldkit.records.models import OLDEST_BIRTH, Record, _text
from fieldkit.records.schedules import HeldDose, Schedule, Series
from fieldkit.records.services import _current, _update, validated
from fieldkit.records.vaccines import Route, Site, Vaccine, vaccine
from fieldkit.store.db import Change, Transaction
from fieldkit.store.keystore import User
from fieldkit.text import ascii_digits, clean_text

GIVEN, NOT_GIVEN, HISTORICAL, ENTERED_IN_ERROR = "given", "not-given", "historical", "entered-in-error"
NOT_GIVEN_REASONS = {"contraindication": N_("contraindication"), "refused": N_("refused"),
                     "out-of-stock": N_("out of stock"), "absent": N_("absent"), "other": N_("other")}
_PARTIAL = re.compile(r"(\d{4})(?:\s*[-/.]\s*(\d{1,2}))?|(\d{1,2})\s*[-/.]\s*(\d{4})")
COLUMNS = ("id", "patient_id", "vaccine", "series", "dose_number", "status", "reason", "primary_source", "occurred",
           "lot", "lot_expiry", "manufacturer", "site", "route", "dose_quantity", "dose_unit", "given_by", "location",
           "consent_by", "early_reason", "note", "created", "updated")


def _day(value: Any) -> Any:
    value = _text(value)
    return None if value in ("", None) else parse_day(value) if isinstance(value, str) else value


def parse_occurred(typed: str | date) -> str:
    """A dose's date as stored: ISO for a day (typed as people type days), or a year ("2019") or
    a month ("2019-05", "05/2019") when that is all a patient remembers of a dose given elsewhere."""
    if isinstance(typed, date):
        return typed.isoformat()
    try:
        return parse_day(typed).isoformat()
    except DateProblem as problem:
        found = _PARTIAL.fullmatch(ascii_digits(clean_text(typed)))
        if not found:
            raise DateProblem(_("{problem}, or a year or a month (2019, 05/2019)").format(problem=problem)) from None
        year, month = (found[1], found[2]) if found[1] else (found[4], found[3])
        if month and not 1 <= int(month) <= 12:
            raise DateProblem(_("“{typed}” is not a month").format(typed=typed)) from None
        return f"{year}-{int(month):02d}" if month else year


def _period(occurred: str) -> tuple[date, date]:
    """The first and last day a stored date can mean."""
    if len(occurred) == 10:
        return date.fromisoformat(occurred), date.fromisoformat(occurred)
    first = date(int(occurred[:4]), int(occurred[5:]) if len(occurred) == 7 else 1, 1)
    return first, schedules.occurred_day(occurred, date.max)


class _Dose(Record):
    patient_id: str = Field(min_length=1)
    vaccine: str = Field(min_length=1)
    dose_number: int | None = Field(None, ge=1, le=20)
    given_by: str = Field("", max_length=100)
    location: str = Field("", max_length=200)
    note: str = Field("", max_length=500)

    @field_validator("patient_id", "vaccine", "given_by", "location", "note", mode="before")
    @classmethod
    def _clean(cls, value: Any) -> Any:
        return "" if value is None else _text(value)

    @field_validator("dose_number", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        return None if value in ("", None) else ascii_digits(str(value)) if isinstance(value, str) else value


class Immunization(_Dose):
    """A dose given here, today or on the day typed."""

    occurred: date = Field(default_factory=date.today)
    lot: str = Field("", max_length=50)
    lot_expiry: date | None = None  # for a lot not in the lot list
    manufacturer: str = Field("", max_length=100)
    site: Site | None = None
    route: Route | None = None
    dose_quantity: float | None = Field(None, gt=0, le=20)
    dose_unit: str = Field("", max_length=20)
    consent_by: str = Field("", max_length=100)
    early_reason: str = Field("", max_length=300)  # why a dose is given below its minimum interval or age
    expired_reason: str = Field("", max_length=300)  # why a dose is given from an expired lot

    @field_validator("lot", "manufacturer", "dose_unit", "consent_by", "early_reason", "expired_reason", mode="before")
    @classmethod
    def _clean_more(cls, value: Any) -> Any:
        return "" if value is None else _text(value)

    @field_validator("site", "route", mode="before")
    @classmethod
    def _blank(cls, value: Any) -> Any:
        return None if value in ("", None) else _text(value)

    @field_validator("occurred", "lot_expiry", mode="before")
    @classmethod
    def _days(cls, value: Any) -> Any:
        return _day(value)


class NotGiven(_Dose):
    """A due dose not given, and why."""

    occurred: date = Field(default_factory=date.today)
    reason: Literal["contraindication", "refused", "out-of-stock", "absent", "other"]
    reason_text: str = Field("", max_length=300)  # what "other" means

    @field_validator("reason", mode="before")
    @classmethod
    def _code(cls, value: Any) -> Any:
        typed = clean_text(str(value or "")).casefold()
        found = [code for code, said in NOT_GIVEN_REASONS.items() if typed in (code, said, _(said).casefold())]
        return found[0] if found else typed

    @field_validator("occurred", mode="before")
    @classmethod
    def _days(cls, value: Any) -> Any:
        return _day(value)

    @field_validator("reason_text", mode="before")
    @classmethod
    def _clean_text(cls, value: Any) -> Any:
        return "" if value is None else _text(value)


class Historical(_Dose):
    """A dose given elsewhere, as the patient's card or memory has it."""

    occurred: str
    lot: str = Field("", max_length=50)

    @field_validator("occurred", mode="before")
    @classmethod
    def _partial(cls, value: Any) -> Any:
        return parse_occurred(value) if isinstance(value, (str, date)) else value

    @field_validator("lot", mode="before")
    @classmethod
    def _clean_lot(cls, value: Any) -> Any:
        return "" if value is None else _text(value)


class Lot(Record):
    vaccine: str = Field(min_length=1)
    lot: str = Field(min_length=1, max_length=50)
    expiry: date
    manufacturer: str = Field("", max_length=100)

    @field_validator("vaccine", "lot", "manufacturer", mode="before")
    @classmethod
    def _clean(cls, value: Any) -> Any:
        return "" if value is None else _text(value)

    @field_validator("expiry", mode="before")
    @classmethod
    def _expiry(cls, value: Any) -> Any:
        return _day(value)


@dataclass(frozen=True)
class Given:
    id: str
    dose_number: int
    round: int = 1  # the series' round: 2 for a second hepatitis B series
    warnings: tuple[str, ...] = ()  # saved anyway: worth a second look
    flags: tuple[str, ...] = ()  # kept by the derivation for good (below minimum interval)


@dataclass(frozen=True)
class _Place:
    """Where a dose falls: its series, number, round and flags."""

    schedule: Schedule | None
    series: Series | None
    number: int
    round: int
    flags: tuple[str, ...] = ()
    earliest: date | None = None


# -- reading -----------------------------------------------------------------------------------

def doses_of(db: Any, patient_id: str) -> list[dict[str, Any]]:
    """Every immunization record of a patient, entered-in-error ones too, oldest first."""
    cursor = db.execute(f"SELECT {', '.join(COLUMNS)} FROM immunizations WHERE patient_id = ? ORDER BY occurred, id",
                        (patient_id,))
    rows = [dict(zip(COLUMNS, row)) for row in cursor]
    for row in rows:
        row["primary_source"] = bool(row["primary_source"])
    return rows


def _record(db: Any, immunization_id: str) -> dict[str, Any]:
    cursor = db.execute(f"SELECT {', '.join(COLUMNS)} FROM immunizations WHERE id = ?", (immunization_id,))
    row = cursor.fetchone()
    if row is None:
        raise FieldkitError(_("no immunization with id {id}").format(id=immunization_id))
    return dict(zip(COLUMNS, row))


def lot_of(db: Any, vaccine_code: str, lot: str) -> dict[str, Any] | None:
    """A listed lot, expired or not: an old record may name a lot long expired."""
    row = db.execute("SELECT id, expiry, manufacturer FROM vaccine_lots WHERE vaccine = ? AND lot = ? "
                     "AND voided IS NOT 1", (vaccine_code, lot)).fetchone()
    return {"id": row[0], "expiry": row[1], "manufacturer": row[2] or ""} if row else None


def lots(db: Any, vaccine_code: str | None = None, *, on: date | None = None) -> list[dict[str, Any]]:
    """The lot list, expired lots included and marked (they stay selectable for old records)."""
    on = on or date.today()
    rows = db.execute("SELECT id, vaccine, lot, expiry, manufacturer FROM vaccine_lots WHERE voided IS NOT 1 "
                      + ("AND vaccine = ? " if vaccine_code else "") + "ORDER BY vaccine, expiry, lot",
                      (vaccine_code,) if vaccine_code else ())
    return [{"id": i, "vaccine": v, "lot": lot, "expiry": expiry, "manufacturer": made or "",
             "expired": date.fromisoformat(expiry) < on} for i, v, lot, expiry, made in rows]


# -- checking ----------------------------------------------------------------------------------

def _patient(tx: Transaction, patient_id: str) -> date | None:
    patient = _current(tx, patient_id)
    if patient.get("merged_into") or patient.get("voided"):
        raise FieldkitError(_("this patient record is merged or voided; record on the record that stays"))
    return date.fromisoformat(patient["birth_date"]) if patient.get("birth_date") else None


def _check_date(occurred: str, birth: date | None) -> None:
    first, last = _period(occurred)
    if first > date.today():
        raise FieldkitError(_("{day} is in the future: a dose is recorded once given").format(day=_shown(occurred)))
    if birth and last < birth:
        raise FieldkitError(_("{day} is before the patient's birth ({birth})").format(
            day=_shown(occurred), birth=day(birth)))


def _shown(occurred: str) -> str:
    return day(occurred) if len(occurred) == 10 else occurred


def _series_for(chosen: Vaccine, birth: date | None, held: list[HeldDose], on: date) -> tuple[Schedule, Series] | None:
    """The series a dose of this vaccine counts in: the one the patient already has doses of, else
    the one for their age, else the first that names the vaccine."""
    found = schedules.series_of(chosen.code)
    if not found:
        return None
    holding = {d.vaccine for d in held if d.counts}
    for test in (lambda s, series: bool(holding & set(series.vaccines)), lambda s, series: s.for_age(birth, on)):
        for pair in found:
            if test(*pair):
                return pair
    return found[0]


def _place(tx: Transaction, patient_id: str, chosen: Vaccine, birth: date | None, dose: HeldDose,
           exclude: str | None = None) -> _Place:
    """Where `dose` falls among the patient's other doses: derived, as the due list derives it."""
    today = date.today()
    held = [d for d in immunity.held_doses(tx, patient_id, today) if d.id not in (dose.id, exclude)]
    pair = _series_for(chosen, birth, held, dose.on)
    if pair is None:  # a vaccine no schedule names (a site's own): counted, not checked
        before = [d for d in held if d.counts and d.vaccine == chosen.code and (d.on, d.id) <= (dose.on, dose.id)]
        return _Place(None, None, len(before) + 1, 1)
    chosen_schedule, series = pair
    status = immunity.immunity_status(tx, patient_id, schedule_id=chosen_schedule.id, today=today) if series.test else None
    derived = schedules.derive(chosen_schedule, birth or OLDEST_BIRTH, [*held, dose], today,
                               restarts=immunity.restarts(status) if status else None)
    mine = [s for s in derived if s.series == series.id]
    placed = next((s for s in mine if s.dose_id == dose.id), None)
    if placed is None:  # not a dose (not given): the one it stands for is the next due
        pending = schedules.next_doses(mine)
        if not pending:
            raise FieldkitError(_("{series} is complete: no dose of it is due").format(series=_(series.name)))
        placed = pending[0]
    return _Place(chosen_schedule, series, placed.number, placed.round, placed.flags, placed.earliest)


def _check_number(typed: int | None, place: _Place) -> None:
    if typed is not None and typed != place.number:
        raise FieldkitError(_("this is dose {number} of the series, not {typed}: record the earlier doses first "
                              "(a dose given elsewhere needs only a year)").format(number=number(place.number), typed=number(typed)))


def _early(place: _Place, reason: str, *, required: bool) -> tuple[str, ...]:
    """A dose below its minimum interval or age: refused without a reason where one is required."""
    flags = tuple(flag for flag in place.flags if flag in (schedules.BELOW_INTERVAL, schedules.BELOW_AGE))
    if flags and required and not reason:
        raise FieldkitError(_("{flag}: dose {number} is allowed from {day}; give a reason to record it early").format(
            flag=_(flags[0]), number=number(place.number), day=day(place.earliest) if place.earliest else "-"))
    return flags


def _fields(**values: Any) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value not in ("", None)}


def _supersede(tx: Transaction, patient_id: str, chosen: Vaccine, place: _Place) -> list[Change]:
    """Not-given records of the dose now given become historical (Tamanu): kept, no longer pending."""
    rows = tx.execute("SELECT id FROM immunizations WHERE patient_id = ? AND vaccine = ? AND status = ? "
                      "AND dose_number = ? AND coalesce(series, 1) = ?",
                      (patient_id, chosen.code, NOT_GIVEN, place.number, place.round)).fetchall()
    return [_update(tx, "immunization", row[0], {"status": HISTORICAL}) for row in rows]


def _lot_fields(tx: Transaction, chosen: Vaccine, record: Immunization) -> tuple[dict[str, Any], list[str]]:
    """The lot's expiry and maker from the lot list; a lot nobody listed is kept as typed."""
    if not record.lot:
        return {}, [_("no lot recorded: add it if you can")]
    listed = lot_of(tx, chosen.code, record.lot)
    expiry = date.fromisoformat(listed["expiry"]) if listed else record.lot_expiry
    warnings = [] if listed else [_("lot {lot} is not in the lot list").format(lot=record.lot)]
    if expiry and expiry < record.occurred and not record.expired_reason:
        raise FieldkitError(_("lot {lot} expired on {expiry}, before {day}: give a reason to record it").format(
            lot=record.lot, expiry=day(expiry), day=day(record.occurred)))
    return _fields(lot=record.lot, lot_expiry=expiry.isoformat() if expiry else None,
                   manufacturer=record.manufacturer or (listed["manufacturer"] if listed else "")), warnings


def _given_fields(tx: Transaction, chosen: Vaccine, record: Immunization, birth: date | None, dose_id: str,
                  ) -> tuple[dict[str, Any], _Place, list[str]]:
    occurred = record.occurred.isoformat()
    _check_date(occurred, birth)
    place = _place(tx, record.patient_id, chosen, birth, HeldDose(dose_id, chosen.code, record.occurred))
    _check_number(record.dose_number, place)
    _early(place, record.early_reason, required=True)
    lot, warnings = _lot_fields(tx, chosen, record)
    fields = _fields(
        patient_id=record.patient_id, vaccine=chosen.code, series=place.round, dose_number=place.number, status=GIVEN,
        primary_source=True, occurred=occurred, **lot, site=record.site or chosen.site, route=record.route or chosen.route,
        dose_quantity=record.dose_quantity or chosen.dose_quantity,
        dose_unit=record.dose_unit or chosen.dose_unit,
        given_by=record.given_by, location=record.location, consent_by=record.consent_by,
        early_reason=record.early_reason, reason=record.expired_reason, note=record.note)
    return fields, place, warnings


def _payload(fields: dict[str, Any], place: _Place) -> dict[str, Any]:
    # The schedule version a dose was placed by, in the journal beside its fields.
    return {"fields": fields, **({"schedule": place.schedule.ref} if place.schedule else {})}


# -- recording ---------------------------------------------------------------------------------

def give(tx: Transaction, user: User, data: Immunization | dict[str, Any]) -> Given:
    """Record a dose given here; returns its id, its dose number and what is worth a second look."""
    require_write(user.role, Write("immunization", "create"))
    record = data if isinstance(data, Immunization) else validated(Immunization, data)
    chosen = vaccine(record.vaccine)
    birth = _patient(tx, record.patient_id)
    dose_id = new_id()
    fields, place, warnings = _given_fields(tx, chosen, record, birth, dose_id)
    tx.append([Change("immunization", dose_id, "create", _payload(fields, place)),
               *_supersede(tx, record.patient_id, chosen, place)], user=user.id)
    return Given(dose_id, place.number, place.round, tuple(warnings), place.flags)


def not_given(tx: Transaction, user: User, data: NotGiven | dict[str, Any]) -> Given:
    """Record that a due dose was not given, and why ("other" says what)."""
    require_write(user.role, Write("immunization", "create"))
    record = data if isinstance(data, NotGiven) else validated(NotGiven, data)
    if record.reason == "other" and not record.reason_text:
        raise FieldkitError(_("say why the dose was not given"))
    chosen = vaccine(record.vaccine)
    birth = _patient(tx, record.patient_id)
    occurred = record.occurred.isoformat()
    _check_date(occurred, birth)
    dose_id = new_id()
    place = _place(tx, record.patient_id, chosen, birth, HeldDose(dose_id, chosen.code, record.occurred, NOT_GIVEN))
    _check_number(record.dose_number, place)
    reason = f"other: {record.reason_text}" if record.reason == "other" else record.reason
    fields = _fields(patient_id=record.patient_id, vaccine=chosen.code, series=place.round, dose_number=place.number,
                     status=NOT_GIVEN, reason=reason, primary_source=True, occurred=occurred, given_by=record.given_by,
                     location=record.location, note=record.note)
    tx.append([Change("immunization", dose_id, "create", _payload(fields, place))], user=user.id)
    return Given(dose_id, place.number, place.round)


def historical(tx: Transaction, user: User, data: Historical | dict[str, Any]) -> Given:
    """Record a dose given elsewhere (not a primary source): a year is date enough, no lot needed.
    A dose below its minimum interval is saved with a warning: it happened, and stays flagged."""
    require_write(user.role, Write("immunization", "create"))
    record = data if isinstance(data, Historical) else validated(Historical, data)
    chosen = vaccine(record.vaccine)
    birth = _patient(tx, record.patient_id)
    _check_date(record.occurred, birth)
    dose_id = new_id()
    on = schedules.occurred_day(record.occurred, date.today())
    place = _place(tx, record.patient_id, chosen, birth, HeldDose(dose_id, chosen.code, on, HISTORICAL, False))
    _check_number(record.dose_number, place)
    flags = _early(place, "", required=False)
    fields = _fields(patient_id=record.patient_id, vaccine=chosen.code, series=place.round, dose_number=place.number,
                     status=HISTORICAL, primary_source=False, occurred=record.occurred, lot=record.lot,
                     given_by=record.given_by, location=record.location, note=record.note)
    tx.append([Change("immunization", dose_id, "create", _payload(fields, place)),
               *_supersede(tx, record.patient_id, chosen, place)], user=user.id)
    return Given(dose_id, place.number, place.round, tuple(_(flag) for flag in flags), flags)


def entered_in_error(tx: Transaction, user: User, immunization_id: str, reason: str) -> None:
    """Mark a record entered in error: it stays, marked, and leaves the due calculation."""
    require_write(user.role, Write("immunization", "update"))
    if not clean_text(reason):
        raise FieldkitError(_("marking a dose entered in error needs a reason"))
    if _record(tx, immunization_id)["status"] == ENTERED_IN_ERROR:
        raise FieldkitError(_("this dose is marked entered in error already"))
    tx.append([_update(tx, "immunization", immunization_id,
                       {"status": ENTERED_IN_ERROR, "reason": clean_text(reason)})], user=user.id)


CORRECTABLE = ("occurred", "lot", "lot_expiry", "manufacturer", "site", "route", "dose_quantity", "dose_unit",
               "given_by", "location", "consent_by", "early_reason", "expired_reason", "note")


def correct(tx: Transaction, user: User, immunization_id: str, changes: dict[str, Any]) -> Given:
    """Correct a dose given here (its date, lot, site, route…), checked as a new dose would be;
    returns what changed nothing when nothing did. A wrong vaccine or patient is entered in error
    and recorded anew."""
    require_write(user.role, Write("immunization", "update"))
    unknown = sorted(set(changes) - set(CORRECTABLE))
    if unknown:
        raise FieldkitError(_("cannot correct {fields} here").format(fields=", ".join(unknown)))
    current = _record(tx, immunization_id)
    if current["status"] != GIVEN:
        raise FieldkitError(_("only a dose given here is corrected; this one is {status}").format(
            status=_(current["status"])))
    kept = {name: current[name] for name in CORRECTABLE if name in current and current[name] is not None}
    if current.get("reason") and "expired_reason" not in changes:
        kept["expired_reason"] = current["reason"]
    record = validated(Immunization, {**kept, **changes, "patient_id": current["patient_id"],
                                      "vaccine": current["vaccine"]})
    chosen = vaccine(record.vaccine)
    birth = _patient(tx, record.patient_id)
    fields, place, warnings = _given_fields(tx, chosen, record, birth, immunization_id)
    changed = {name: value for name, value in fields.items() if current.get(name) != value and
               not (name == "primary_source" and bool(current.get(name)) == value)}
    if changed:
        tx.append([_update(tx, "immunization", immunization_id, changed)], user=user.id)
    return Given(immunization_id, place.number, place.round, tuple(warnings), place.flags)


def add_lot(tx: Transaction, user: User, data: Lot | dict[str, Any]) -> str:
    """Add a vaccine lot with its expiry; the same lot of the same vaccine twice is refused."""
    require_write(user.role, Write("vaccine_lot", "create"))
    lot = data if isinstance(data, Lot) else validated(Lot, data)
    chosen = vaccine(lot.vaccine)
    if lot_of(tx, chosen.code, lot.lot):
        raise FieldkitError(_("lot {lot} of {vaccine} is listed already").format(lot=lot.lot, vaccine=_(chosen.name)))
    lot_id = new_id()
    tx.append([Change("vaccine_lot", lot_id, "create", {"fields": _fields(
        vaccine=chosen.code, lot=lot.lot, expiry=lot.expiry.isoformat(), manufacturer=lot.manufacturer)})], user=user.id)
    return lot_id
