"""Lab results as journal changes: record one, correct it, cancel it, mark it entered in error, and
read a patient's results and a result's history.

A result is a mutable entity (store/entities.py) whose value and status are safety fields. A
correction is a new write of value and status ("corrected"), so the value shown before stays in
the journal and `history` reads it back; nothing is overwritten in place. The status moves by the
table `MOVES` only. A result is read against the test table (records/lab_codes.py): its LOINC code
follows the test and unit, the value is kept as reported, the interpretation is the lab's flag or,
when the lab gives none, what the reference range (or the coded answer) says. A result the test
table marks for follow-up (a positive HBsAg) raises a follow-up task for the patient when it
becomes final, once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from fieldkit.errors import FieldkitError
from fieldkit.i18n import N_, _, day
from fieldkit.permissions import Write, require_write
from fieldkit.records import immunity, lab_codes, queries, screening
from fieldkit.records.dates import parse_day
from fieldkit.records.ids import new_id
from fieldkit.records.lab_codes import COUNTED, LabProblem, LabTest, Range
from fieldkit.records.models import Record, _text
from fieldkit.records.services import _current, _update, validated
from fieldkit.store.db import Change, Transaction
from fieldkit.store.fold import entity_writes
from fieldkit.store.keystore import User
from fieldkit.text import clean_text

STATUSES = ("preliminary", "final", "corrected", "cancelled", "entered-in-error")
STATUS_LABELS = {"preliminary": N_("preliminary"), "final": N_("final"), "corrected": N_("corrected"),
                 "cancelled": N_("cancelled"), "entered-in-error": N_("entered in error")}
# What a result can be changed by: the statuses it applies to, and the status it leaves.
MOVES: dict[str, tuple[frozenset[str], str]] = {
    "correct": (frozenset({"preliminary", "final", "corrected"}), "corrected"),
    "cancel": (frozenset({"preliminary", "final", "corrected"}), "cancelled"),
    "entered_in_error": (frozenset({"preliminary", "final", "corrected", "cancelled"}), "entered-in-error"),
}
READING = ("value", "comparator", "unit", "coded", "text")  # what the lab reported; a change of any is a correction
SHOWN = (*READING, "interpretation", "status", "note")  # what each step of a result's history shows


class LabResult(Record):
    """One result as typed or as read from a lab's file; the value as reported, the test by its
    local code."""

    patient_id: str = Field(min_length=1)
    test: str = Field(min_length=1)
    value: str | int | float
    unit: str = ""
    status: Literal["preliminary", "final"] = "final"
    collected: date = Field(default_factory=date.today)
    issued: date | None = None
    lab: str = Field("", max_length=200)
    sample_id: str = Field("", max_length=100)
    round_id: str = ""
    range: str = Field("", max_length=100)  # as the lab printed it; blank: the test table's
    flag: str = ""  # the lab's own interpretation, when it gives one
    note: str = Field("", max_length=500)

    @field_validator("patient_id", "test", "unit", "lab", "sample_id", "round_id", "range", "flag", "note",
                     mode="before")
    @classmethod
    def _clean(cls, value: Any) -> Any:
        return "" if value is None else _text(value)

    @field_validator("collected", "issued", mode="before")
    @classmethod
    def _day(cls, value: Any) -> Any:
        value = _text(value)
        return (parse_day(value) if value else None) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _in_order(self) -> "LabResult":
        check_days(self.collected, self.issued)
        return self


def check_days(collected: date, issued: date | None) -> None:
    """A sample is collected by today, and its result issued between then and today."""
    today = date.today()
    for when in (collected, issued):
        if when is not None and when > today:
            raise ValueError(_("{day} is in the future").format(day=day(when)))
    if issued is not None and issued < collected:
        raise ValueError(_("a result is issued on or after its sample's collection ({day})").format(day=day(collected)))


def measured(lab_test: LabTest, value: Any, unit: str = "", *, bounds: Range | None = None, lab_flag: str = "",
             words: dict[str, str] | None = None, flags: dict[str, str] | None = None) -> dict[str, Any]:
    """The stored fields of one reported result (test, LOINC, unit, the reading, range and
    interpretation); a LabProblem naming the part that cannot be recorded as it is."""
    if value is None or (isinstance(value, str) and clean_text(value).casefold() in lab_codes.BLANK):
        raise LabProblem(_("no result given"))
    code = lab_codes.ucum(lab_test, unit)
    reading: dict[str, str] = {}
    if lab_test.kind == "quantity":
        comparator, reading["value"] = lab_codes.limited(value)
        if comparator:
            reading["comparator"] = comparator
    elif lab_test.kind == "coded":
        reading["coded"] = lab_codes.answer(lab_test, value, words)
    else:
        reading["text"] = clean_text(str(value))
    bounds = lab_test.range.get(code, Range()) if bounds is None else bounds
    low, high = bounds.bounds()
    interpretation = lab_codes.flag(lab_flag, flags) or lab_codes.interpret(
        lab_test, value=reading.get("value", ""), coded=reading.get("coded", ""), bounds=bounds,
        comparator=reading.get("comparator", ""))
    return {"test": lab_test.code, "loinc": lab_test.loinc_for(code), "unit": code, **reading, "range_low": low,
            "range_high": high, "range_text": bounds.text, "interpretation": interpretation}


def _stored(fields: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value not in (None, "")}


def follow_ups(lab_test: LabTest, result: dict[str, Any], before: dict[str, Any] | None = None) -> list[Change]:
    """The follow-up task a result raises when it becomes final with an interpretation its test is
    followed up for (a positive HBsAg): once, not again for a correction that leaves it so."""
    reading = result.get("interpretation") or ""
    if result.get("status") not in COUNTED or reading not in lab_test.follow_up:
        return []
    if before and before.get("status") in COUNTED and before.get("interpretation") == reading:
        return []
    reason = _("{test} {result} (sample of {day}): see the patient").format(
        test=lab_test.name, result=_(lab_codes.INTERPRETATIONS[reading]), day=day(result["collected"]))
    return [Change("followup", new_id(), "create", {"fields": {
        "patient_id": result["patient_id"], "due": date.today().isoformat(), "status": "open", "reason": reason}})]


def creation(lab_test: LabTest, fields: dict[str, Any]) -> tuple[str, list[Change]]:
    """A new result's id and changes (the result, and any follow-up it raises)."""
    result_id = new_id()
    return result_id, [Change("lab_result", result_id, "create", {"fields": _stored(fields)}),
                       *follow_ups(lab_test, fields)]


def correction(tx: Transaction, lab_test: LabTest, current: dict[str, Any], new: dict[str, Any], note: str) -> list[Change]:
    """The changes that replace a result's reading: "corrected" once it was final (or withdrawn),
    the new status where it was preliminary; the old reading stays in the journal."""
    status = new.get("status", "final") if current["status"] == "preliminary" else "corrected"
    fields = {name: value for name, value in new.items() if (current.get(name) or None) != (value or None)}
    fields |= {"status": status, "note": note}
    merged = {**current, **fields}
    return [_update(tx, "lab_result", current["id"], {k: (None if v == "" else v) for k, v in fields.items()}),
            *follow_ups(lab_test, merged, current)]


def same_reading(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all((a.get(name) or None) == (b.get(name) or None) for name in READING)


def _result(db: Any, result_id: str) -> dict[str, Any]:
    cursor = db.execute("SELECT * FROM lab_results WHERE id = ? AND voided IS NOT 1", (result_id,))
    row = cursor.fetchone()
    if row is None:
        raise FieldkitError(_("no lab result with id {id}").format(id=result_id))
    return dict(zip([c[0] for c in cursor.description], row))


def existing(db: Any, sample_id: str, test: str) -> dict[str, Any] | None:
    """The result already held for a sample and test (one entered in error is not held)."""
    cursor = db.execute("SELECT * FROM lab_results WHERE sample_id = ? AND test = ? AND voided IS NOT 1 "
                        "AND status != 'entered-in-error' ORDER BY created LIMIT 1", (sample_id, test))
    row = cursor.fetchone()
    return dict(zip([c[0] for c in cursor.description], row)) if row else None


def recordable(tx: Transaction, patient_id: str) -> None:
    patient = _current(tx, patient_id)
    if patient.get("merged_into") or patient.get("voided"):
        raise FieldkitError(_("this patient record is merged or voided; record on the record that stays"))


def record(tx: Transaction, user: User, data: LabResult | dict[str, Any]) -> str:
    """Record one result; returns its id. A second result for a sample and test already held is
    refused: correct that one instead."""
    require_write(user.role, Write("lab_result", "create"))
    result = data if isinstance(data, LabResult) else validated(LabResult, data)
    lab_test = lab_codes.test(result.test)
    recordable(tx, result.patient_id)
    round_id = screening.round_of(tx, result.round_id)["id"] if result.round_id else ""
    if result.sample_id and (held := existing(tx, result.sample_id, lab_test.code)):
        raise FieldkitError(_("sample {sample} already has a {test} result ({id}): correct that one").format(
            sample=result.sample_id, test=lab_test.name, id=held["id"]))
    bounds = lab_codes.parse_range(result.range) if result.range else None
    fields = {**measured(lab_test, result.value, result.unit, bounds=bounds, lab_flag=result.flag),
              "patient_id": result.patient_id, "status": result.status, "collected": result.collected.isoformat(),
              "issued": result.issued.isoformat() if result.issued else None, "lab": result.lab,
              "sample_id": result.sample_id, "round_id": round_id, "note": result.note}
    result_id, changes = creation(lab_test, fields)
    append(tx, user, changes)
    return result_id


def append(tx: Transaction, user: User, changes: list[Change], *, chunk: int | None = None,
           progress: Callable[[int, int], None] | None = None) -> list[str]:
    """Journal results and what comes with them, then raise the follow-ups an immunity test's new
    reading asks for, however the result came in (typed, corrected, imported, matched from
    quarantine); returns the follow-ups raised that way."""
    size = chunk or len(changes) or 1
    for start in range(0, len(changes), size):
        tx.append(changes[start:start + size], user=user.id)
        if progress:
            progress(min(start + size, len(changes)), len(changes))
    ids = list({c.entity_id for c in changes if c.entity == "lab_result"})
    read = queries.rows_in(tx, "SELECT patient_id, loinc FROM lab_results WHERE id IN ({marks})", ids)
    return immunity.after_results(tx, user, [(row["patient_id"], row["loinc"]) for row in read])


def _moving(tx: Transaction, user: User, result_id: str, action: str, reason: str) -> tuple[dict[str, Any], str]:
    require_write(user.role, Write("lab_result", "update"))
    if not clean_text(reason):
        raise FieldkitError(_("say why (a reason is kept with the change)"))
    current = _result(tx, result_id)
    allowed, status = MOVES[action]
    if current["status"] not in allowed:
        raise FieldkitError(_("a result that is {status} cannot become {new}").format(
            status=_(STATUS_LABELS[current["status"]]), new=_(STATUS_LABELS[status])))
    return current, status


def correct(tx: Transaction, user: User, result_id: str, value: Any, *, reason: str, unit: str | None = None,
            flag: str = "") -> None:
    """Replace a result's value (and unit, when given) with a reason; it becomes "corrected" and
    the value it replaces stays readable in `history`."""
    current, _status = _moving(tx, user, result_id, "correct", reason)
    lab_test = lab_codes.test(current["test"])
    unit = (current["unit"] or "") if unit is None else unit
    # The printed range goes with the unit it was printed for: a new unit reads the table's.
    bounds = Range(low=current["range_low"], high=current["range_high"], text=current["range_text"] or "") \
        if unit == (current["unit"] or "") else None
    new = measured(lab_test, value, unit, bounds=bounds, lab_flag=flag)
    if same_reading(current, new):
        raise FieldkitError(_("this is the result already recorded: nothing to correct"))
    append(tx, user, correction(tx, lab_test, current, new, clean_text(reason)))


def cancel(tx: Transaction, user: User, result_id: str, reason: str) -> None:
    """The test was not done after all (sample lost, haemolysed): the result stays, cancelled."""
    _current_row, status = _moving(tx, user, result_id, "cancel", reason)
    tx.append([_update(tx, "lab_result", result_id, {"status": status, "note": clean_text(reason)})], user=user.id)


def entered_in_error(tx: Transaction, user: User, result_id: str, reason: str) -> None:
    """The result was never this patient's (or never real): it stays, marked, and no count reads it."""
    _current_row, status = _moving(tx, user, result_id, "entered_in_error", reason)
    tx.append([_update(tx, "lab_result", result_id, {"status": status, "note": clean_text(reason)})], user=user.id)


def _named(row: dict[str, Any]) -> dict[str, Any]:
    known = lab_codes.tests().get(row["test"])
    return {**row, "test_name": known.name if known else row["test"]}


def results_of(db: Any, patient_id: str) -> list[dict[str, Any]]:
    """A patient's results, and those of records merged into theirs, newest sample first; a
    result entered in error is listed, marked by its status."""
    ids = [patient_id, *queries.merged_here(db, patient_id)]
    cursor = db.execute(f"SELECT * FROM lab_results WHERE patient_id IN ({','.join('?' * len(ids))}) "
                        "AND voided IS NOT 1 ORDER BY collected DESC, test, created", ids)
    names = [c[0] for c in cursor.description]
    return [_named(dict(zip(names, row))) for row in cursor.fetchall()]


def result(db: Any, result_id: str) -> dict[str, Any]:
    return _named(_result(db, result_id))


def history(db: Any, result_id: str) -> list[dict[str, Any]]:
    """Each write of a result, oldest first, with who made it, when, what it changed and the
    result as it stood after it: a corrected value's earlier readings stay readable here."""
    writes = entity_writes(db, "lab_result", result_id)
    if not writes:
        raise FieldkitError(_("no lab result with id {id}").format(id=result_id))
    staff = queries.staff_names(db)
    state: dict[str, Any] = {}
    steps = []
    for ver, author, fields, _base in writes:
        state |= fields
        steps.append({"version": ver, "at": queries.when(ver), "author": author, "author_name": staff.get(author, author),
                      "changed": sorted(fields), **{name: state.get(name) for name in SHOWN}})
    return steps
