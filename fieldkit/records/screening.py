"""Screening rounds: a programme's periodic testing of a population (Homs: health staff for
hepatitis B and C and HIV), planned by a supervisor; the lab results of the round carry its id.

A round's summary counts people, not rows: a person tested twice for one test in a round is one
person tested, and a result entered in error or cancelled is not counted. A duplicate record
merged into another counts as the person it was merged into.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import Field, field_validator, model_validator

from fieldkit.errors import FieldkitError
from fieldkit.i18n import _, day
from fieldkit.permissions import Write, require_write
from fieldkit.records import lab_codes, vaccine_lists
from fieldkit.records.dates import parse_day
from fieldkit.records.ids import new_id
from fieldkit.records.models import Record, _text
from fieldkit.records.services import validated
from fieldkit.store.db import Change, Transaction
from fieldkit.store.journal import parse
from fieldkit.store.keystore import User


class ScreeningRound(Record):
    name: str = Field(min_length=1, max_length=200)
    programme: str = Field("", max_length=100)
    starts: date
    ends: date | None = None
    tests: tuple[str, ...] = Field(min_length=1, max_length=30)
    population: str = Field("", max_length=200)  # who is screened, in words: "Homs directorate health staff"

    @field_validator("name", "programme", "population", mode="before")
    @classmethod
    def _clean(cls, value: Any) -> Any:
        return "" if value is None else _text(value)

    @field_validator("starts", "ends", mode="before")
    @classmethod
    def _day(cls, value: Any) -> Any:
        value = _text(value)
        return (parse_day(value) if value else None) if isinstance(value, str) else value

    @field_validator("tests", mode="before")
    @classmethod
    def _known(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        try:
            return tuple(dict.fromkeys(lab_codes.test(str(code)).code for code in value))
        except lab_codes.LabProblem as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _in_order(self) -> "ScreeningRound":
        if self.ends is not None and self.ends < self.starts:
            raise ValueError(_("a round ends on or after the day it starts ({day})").format(day=day(self.starts)))
        return self


def _rows(db: Any, where: str = "", params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    cursor = db.execute(f"SELECT * FROM screening_rounds WHERE voided IS NOT 1 {where} ORDER BY starts DESC, name",
                        params)
    names = [c[0] for c in cursor.description]
    found = [dict(zip(names, row)) for row in cursor.fetchall()]
    for row in found:
        row["tests"] = parse(row["tests"]) if row["tests"] else []
    return found


def rounds(db: Any) -> list[dict[str, Any]]:
    """Every round, the latest first."""
    return _rows(db)


def round_of(db: Any, round_id: str) -> dict[str, Any]:
    """A round by its id, or by its name as typed (in any case)."""
    found = _rows(db, "AND id = ?", (round_id,)) or [
        r for r in _rows(db) if r["name"].casefold() == (_text(round_id) or "").casefold()]
    if not found:
        raise FieldkitError(_("no screening round “{id}”").format(id=round_id))
    return found[0]


def create_round(tx: Transaction, user: User, data: ScreeningRound | dict[str, Any]) -> str:
    """Plan a round (a supervisor's); two live rounds never share a name, which staff pick it by."""
    require_write(user.role, Write("screening_round", "create"))
    planned = data if isinstance(data, ScreeningRound) else validated(ScreeningRound, data)
    if any(r["name"].casefold() == planned.name.casefold() for r in _rows(tx)):
        raise FieldkitError(_("there is a round named “{name}” already").format(name=planned.name))
    round_id = new_id()
    fields = {"name": planned.name, "programme": planned.programme, "starts": planned.starts.isoformat(),
              "ends": planned.ends.isoformat() if planned.ends else None, "tests": list(planned.tests),
              "population": planned.population}
    tx.append([Change("screening_round", round_id, "create",
                      {"fields": {k: v for k, v in fields.items() if v not in ("", None)}})], user=user.id)
    return round_id


def round_summary(db: Any, round_id: str, *, today: date | None = None) -> dict[str, Any]:
    """Who was tested in a round, and per test: people tested, positive, negative, indeterminate,
    above and below the range (final and corrected results only); and how far the people tested
    are in their hepatitis B vaccination (vaccine_lists.round_counts)."""
    planned = round_of(db, round_id)
    rows = db.execute(
        "SELECT r.test, coalesce(p.merged_into, r.patient_id), r.interpretation FROM lab_results r "
        "LEFT JOIN patients p ON p.id = r.patient_id WHERE r.round_id = ? AND r.voided IS NOT 1 "
        "AND r.status IN ('final', 'corrected')", (planned["id"],)).fetchall()
    known = lab_codes.tests()
    people: set[str] = set()
    by_test: dict[str, dict[str, set[str]]] = {}
    for test, person, interpretation in rows:
        people.add(person)
        counted = by_test.setdefault(test, {})
        counted.setdefault("tested", set()).add(person)
        if interpretation:
            counted.setdefault(interpretation, set()).add(person)
    tests = {}
    for code in dict.fromkeys([*planned["tests"], *sorted(by_test)]):
        counted = by_test.get(code, {})
        tests[code] = {"name": known[code].name if code in known else code, "tested": len(counted.get("tested", ())),
                       "positive": len(counted.get("POS", ())), "negative": len(counted.get("NEG", ())),
                       "indeterminate": len(counted.get("IND", ())), "high": len(counted.get("H", ())),
                       "low": len(counted.get("L", ()))}
    return {"round": planned, "tested": len(people), "results": len(rows), "tests": tests,
            "vaccination": vaccine_lists.round_counts(db, people, today=today)}
