"""A lab's file of results, read through the lab's template (records/lab_templates.py): a dry run
that reports every problem, then one commit. Rows that match no patient wait in quarantine
(records/lab_quarantine.py).

- `check` reports each problem as (row, column, code, message), rows numbered as a spreadsheet
  shows them (the header is row 1). It counts rows, not problems: each row is ok, has errors, is
  quarantined, or is already there.
- A row is matched to a patient by its sample id (a result already held for that sample), else by a
  staff or national id together with the birth date; the name only confirms. A row that matches no
  one, or matches against what its name or birth date says, is quarantined with its data: never
  made into a patient. A row with an error is written nowhere; the error list says what to fix.
- `commit` writes one `lab_import` (file SHA-256, template and version, counts) and the results in
  one transaction. A file already committed is refused whole; a result already held for the same
  sample and test is left as it is, or corrected when the lab's value changed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from fieldkit.errors import FieldkitError
from fieldkit.i18n import _, day
from fieldkit.permissions import Write, require_write
from fieldkit.records import lab_codes, labs, queries, screening
from fieldkit.records.dates import DateProblem, parse_day
from fieldkit.records.duplicates import THRESHOLD, _name_score
from fieldkit.records.ids import new_id
from fieldkit.records.lab_codes import LabProblem, label_key
from fieldkit.records.lab_templates import IDENTITY, Sheet, Template, read_sheet, template
from fieldkit.records.names import full_name
from fieldkit.records.registry import to_csv
from fieldkit.store.db import Change, Transaction
from fieldkit.store.journal import canonical, parse
from fieldkit.store.keystore import User
from fieldkit.text import ascii_digits, clean_text

Progress = Callable[[int, int], None]
IDENTITY_CODES = frozenset({"E_NO_MATCH", "E_MISMATCH"})  # a person must say who the row is: quarantine
CHUNK = 1000  # journal changes appended at a time in a commit: the progress bar moves between them
ERROR_COLUMNS = ("row", "column", "code", "message", "value")


@dataclass(frozen=True)
class Problem:
    row: int  # as a spreadsheet shows it; 1 is the header
    column: str  # the file's header ("" for the whole row)
    code: str  # E_… an error, W_… a warning
    message: str
    value: str = ""  # what the cell held


@dataclass
class PlannedRow:
    row: int
    cells: dict[str, str]  # header -> the cell as text: what a quarantined row keeps
    results: list[dict[str, Any]] = field(default_factory=list)  # each result's fields, but the patient's
    patient_id: str | None = None
    problems: list[Problem] = field(default_factory=list)
    actions: list[tuple[str, dict[str, Any] | None]] = field(default_factory=list)  # per result: what commit does
    in_quarantine: str = ""  # the quarantined row an earlier file left with these very cells

    @property
    def state(self) -> str:
        """ok, error, quarantined or already: every row is exactly one."""
        codes = {p.code for p in self.problems}
        if any(code.startswith("E_") for code in codes - IDENTITY_CODES):
            return "error"
        if codes & IDENTITY_CODES:
            return "already" if self.in_quarantine else "quarantined"
        if self.actions and all(action == "already" for action, _held in self.actions):
            return "already"
        return "ok"


@dataclass
class ImportPlan:
    file_name: str
    sha256: str
    template: Template
    round_id: str | None
    rows: list[PlannedRow] = field(default_factory=list)
    file_problems: list[Problem] = field(default_factory=list)  # the file does not fit the template
    imported_as: dict[str, Any] | None = None  # the committed import of this very file, if any

    @property
    def problems(self) -> list[Problem]:
        return [*self.file_problems, *(p for row in self.rows for p in row.problems)]

    @property
    def counts(self) -> dict[str, int]:
        """Rows, each counted once: ok, with errors, quarantined, already there; and the results
        a commit would add and correct."""
        states = [row.state for row in self.rows]
        actions = [action for row in self.rows if row.state == "ok" for action, _held in row.actions]
        return {"rows": len(self.rows), "ok": states.count("ok"), "errors": states.count("error"),
                "quarantined": states.count("quarantined"), "already": states.count("already"),
                "new_results": actions.count("create"), "corrections": actions.count("correct"),
                "finalised": actions.count("finalise")}

    @property
    def refusal(self) -> str:
        """Why a commit would write nothing at all ("" when it would write)."""
        if self.imported_as is not None:
            return _("this file was imported on {day} (import {id}): nothing is added twice").format(
                day=day(self.imported_as["day"]), id=self.imported_as["id"])
        if self.file_problems:
            return _("the file does not fit the template {template}: {problem}").format(
                template=self.template.ref, problem=self.file_problems[0].message)
        return ""


@dataclass(frozen=True)
class ImportResult:
    import_id: str
    counts: dict[str, int]
    created: int
    corrected: int
    quarantined: int
    follow_ups: int


def _ident(value: str) -> str:
    return re.sub(r"\s+", "", ascii_digits(clean_text(value))).casefold()


def _text(cell: Any) -> str:
    if cell is None:
        return ""
    if isinstance(cell, datetime):
        return cell.date().isoformat() if cell.time() == datetime.min.time() else cell.isoformat(sep=" ")
    if isinstance(cell, date):
        return cell.isoformat()
    if isinstance(cell, float):
        return lab_codes.decimal_text(cell)
    return clean_text(str(cell))


def _day(cell: Any, date_format: str) -> date:
    """A date cell: a spreadsheet's date, the template's format, ISO, or day/month/year."""
    if isinstance(cell, datetime):
        return cell.date()
    if isinstance(cell, date):
        return cell
    text = ascii_digits(clean_text(str(cell)))
    for form in (date_format, "%Y-%m-%d") if date_format else ():
        try:
            return datetime.strptime(text, form).date()
        except ValueError:
            continue
    if date_format:
        raise DateProblem(_("“{typed}” is not a date as this lab writes them ({form})").format(typed=cell, form=date_format))
    return parse_day(text)


class _People:
    """Who the file's rows may be, read once: identifiers, birth dates and names of every live
    patient (a merged record answers as the one it went into), and the patients of samples held."""

    def __init__(self, db: Any, systems: Iterable[str], samples: Iterable[str]) -> None:
        self.by_id: dict[tuple[str, str], set[str]] = {}
        self.known: dict[str, tuple[str, str | None]] = {}
        merged: dict[str, str] = {}
        holds: dict[str, dict[str, set[str]]] = {}
        wanted = set(systems)
        for pid, given, family, other, order, birth, identifiers, merged_into, voided in db.execute(
                "SELECT id, given_name, family_name, other_names, name_order, birth_date, identifiers, merged_into, "
                "voided FROM patients"):
            if voided:
                continue
            if merged_into:
                merged[pid] = merged_into
            self.known[pid] = (full_name({"given_name": given, "family_name": family, "other_names": other,
                                          "name_order": order}), birth)
            for system, value in (parse(identifiers) if identifiers else {}).items():
                if system in wanted:
                    self.by_id.setdefault((system, _ident(str(value))), set()).add(pid)
                    holds.setdefault(pid, {}).setdefault(system, set()).add(_ident(str(value)))
        self._merged = merged
        self.holds: dict[str, dict[str, set[str]]] = {}  # a patient's ids by system, with those merged into theirs
        for pid, systems in holds.items():
            for system, values in systems.items():
                self.holds.setdefault(self.survivor(pid), {}).setdefault(system, set()).update(values)
        self.by_id = {key: {self.survivor(pid) for pid in found} & self.known.keys() for key, found in self.by_id.items()}
        self.by_sample: dict[str, set[str]] = {}
        for held in queries.rows_in(db, "SELECT sample_id, patient_id FROM lab_results WHERE voided IS NOT 1 AND "
                               "status != 'entered-in-error' AND sample_id IN ({marks})", sorted(set(samples))):
            if (pid := self.survivor(held["patient_id"])) in self.known:
                self.by_sample.setdefault(held["sample_id"], set()).add(pid)

    def survivor(self, pid: str) -> str:
        seen = [pid]
        while (next_id := self._merged.get(seen[-1])) is not None:
            if next_id in seen:
                return pid  # two records merged into each other: each stays itself (queries.survivor)
            seen.append(next_id)
        return seen[-1]


def _same_name(typed: str, recorded: str) -> bool:
    """The name confirms: alike in spelling or script, or one holds all of the other's words, two or
    more (a lab that writes the father's name too; a lone given name confirms nothing)."""
    if _name_score(typed, recorded) >= THRESHOLD:
        return True
    mine, theirs = {label_key(w) for w in typed.split()}, {label_key(w) for w in recorded.split()}
    return min(len(mine), len(theirs)) >= 2 and (mine <= theirs or theirs <= mine)


class _Rows:
    """Plans each row of one file against one template and the patients read once."""

    people: _People  # read once the file is known to fit the template

    def __init__(self, chosen: Template, sheet: Sheet, round_id: str | None) -> None:
        self.chosen, self.sheet, self.round_id = chosen, sheet, round_id
        self.keys = {label_key(h): i for i, h in reversed(list(enumerate(sheet.headers)))}
        self.where: dict[str, int] = {}
        self.missing: list[str] = []
        for name, headers in chosen.columns.items():
            index = self._find(headers)
            if index is None:
                self.missing.append(name)
            else:
                self.where[name] = index
        self.wide = [(spec, self._find(spec.column)) for spec in chosen.result]
        self.words, self.flags, self.names = chosen.words(), chosen.flag_words(), chosen.test_names()

    def _find(self, headers: Iterable[str]) -> int | None:
        return next((self.keys[k] for k in map(label_key, headers) if k in self.keys), None)

    def file_problems(self) -> list[Problem]:
        """Columns a template needs that the file lacks: nothing of it can be read."""
        needed = {"collected", *(("test", "value") if self.chosen.long else ())}
        absent = [self.chosen.columns[name][0] for name in self.missing if name in needed]
        if self.wide and all(index is None for _spec, index in self.wide):
            absent += [spec.column[0] for spec, _index in self.wide]
        if not set(IDENTITY) & set(self.where):
            absent.append(" / ".join(self.chosen.columns[name][0] for name in IDENTITY if name in self.chosen.columns))
        return [Problem(1, header, "E_COLUMN", _("the file has no column “{column}”").format(column=header))
                for header in absent]

    def header(self, name: str) -> str:
        return self.sheet.headers[self.where[name]] if name in self.where else self.chosen.columns[name][0]

    def plan(self, number: int, cells: list[Any]) -> PlannedRow:
        def cell(name: str) -> Any:
            index = self.where.get(name)
            return cells[index] if index is not None and index < len(cells) else None

        row = PlannedRow(number, {h: _text(c) for h, c in zip(self.sheet.headers, cells) if h and _text(c)})

        def problem(name: str, code: str, message: str) -> None:
            row.problems.append(Problem(number, self.header(name), code, message, _text(cell(name))))

        days: dict[str, date | None] = {}
        for name in ("collected", "issued"):
            raw = cell(name)
            days[name] = None
            if _text(raw):
                try:
                    days[name] = _day(raw, self.chosen.date_format)
                except DateProblem as exc:
                    problem(name, "E_DATE", str(exc))
        if days["collected"] is None and not any(p.column == self.header("collected") for p in row.problems):
            problem("collected", "E_DATE", _("no collection date"))
        collected, issued = days["collected"], days["issued"]
        if collected is not None:
            try:
                labs.check_days(collected, issued)
            except ValueError as exc:
                problem("collected" if collected > date.today() else "issued", "E_DATE", str(exc))
        sample = _text(cell("sample_id"))
        for spec in self._results(cells, cell):
            test_name, value, unit, lab_flag, printed, column = spec
            try:
                lab_test = self._test(test_name)
                bounds = lab_codes.parse_range(printed) if printed else None
                fields = labs.measured(lab_test, value, unit, bounds=bounds, lab_flag=lab_flag, words=self.words,
                                       flags=self.flags)
            except LabProblem as exc:
                where = {"value": column, "test": self.header("test") if self.chosen.long else column,
                         "unit": self.header("unit") if self.chosen.long and "unit" in self.where else column,
                         "flag": self.header("flag") if "flag" in self.where else column}[exc.field]
                shown = {"value": value, "test": test_name, "unit": unit, "flag": lab_flag}[exc.field]
                row.problems.append(Problem(number, where, exc.code, str(exc), _text(shown)))
                continue
            row.results.append({**fields, "status": "final", "collected": collected.isoformat() if collected else None,
                                "issued": issued.isoformat() if issued else None, "lab": self.chosen.lab,
                                "sample_id": sample, "round_id": self.round_id, "import_row": number})
        if not row.results and not row.problems:
            row.problems.append(Problem(number, "", "E_VALUE", _("no result in this row")))
        self._match(row, cell, problem, sample)
        return row

    def _results(self, cells: list[Any], cell: Callable[[str], Any]) -> list[tuple[str, Any, str, str, str, str]]:
        """(test, value, unit, flag, printed range, the value's header) of each result a row holds;
        a wide row's blank test cell is a test not done."""
        if self.chosen.long:
            return [(_text(cell("test")), cell("value"), _text(cell("unit")), _text(cell("flag")), _text(cell("range")),
                     self.header("value"))]
        found = []
        for spec, index in self.wide:
            value = cells[index] if index is not None and index < len(cells) else None
            if _text(value).casefold() not in lab_codes.BLANK:
                found.append((spec.test, value, spec.unit, "", "", self.sheet.headers[index or 0]))
        return found

    def _test(self, typed: str) -> lab_codes.LabTest:
        code = self.names.get(label_key(typed))
        return lab_codes.test(code or typed)

    def _match(self, row: PlannedRow, cell: Callable[[str], Any], problem: Callable[..., None], sample: str) -> None:
        """Sample id, else a strong identifier with the birth date. Whatever matched, an id, a birth
        date or a name the row gives that is not the patient's sends the row to quarantine."""
        people = self.people
        given = [(name, value, self.chosen.identifiers.get(name, name)) for name in ("staff_id", "national_id")
                 if (value := _text(cell(name)))]
        raw_birth = cell("birth_date")
        try:
            birth = _day(raw_birth, self.chosen.date_format).isoformat() if _text(raw_birth) else None
        except DateProblem as exc:
            problem("birth_date", "E_DATE", str(exc))
            return
        held = people.by_sample.get(sample, set()) if sample else set()
        if len(held) == 1:
            [pid] = held
        elif not given:
            problem("sample_id" if "sample_id" in self.where else "staff_id", "E_NO_MATCH",
                    _("no result is held for this sample, and the row has no staff or national id"))
            return
        else:
            found = set().union(*(people.by_id.get((system, _ident(value)), set()) for _name, value, system in given))
            name, value, _system = given[0]
            if not found:
                problem(name, "E_NO_MATCH", _("no patient has this id ({id}); the row waits in quarantine").format(id=value))
                return
            if len(found) > 1:
                problem(name, "E_MISMATCH", _("{count} patients have these ids: merge them, then match the row").format(
                    count=len(found)))
                return
            if birth is None:
                problem("birth_date", "E_NO_MATCH", _("an id is matched only with the birth date, which this row lacks"))
                return
            [pid] = found
        recorded_name, recorded_birth = people.known[pid]
        for name, value, system in given:
            theirs = people.holds.get(pid, {}).get(system)
            owners = people.by_id.get((system, _ident(value)), set())
            if (owners and pid not in owners) or (theirs and _ident(value) not in theirs):
                problem(name, "E_MISMATCH", _("{id} is not the id of the matched patient, {name}").format(
                    id=value, name=recorded_name))
                return
        if birth is not None and birth != recorded_birth:
            problem("birth_date", "E_MISMATCH", _("the matched patient, {name}, was born on {day}").format(
                name=recorded_name, day=day(recorded_birth) if recorded_birth else "?"))
            return
        typed_name = _text(cell("name"))
        if typed_name and not _same_name(typed_name, recorded_name):
            problem("name", "E_MISMATCH", _("the name is not that of the matched patient, {name}").format(
                name=recorded_name))
            return
        row.patient_id = pid


def _duplicates(rows: list[PlannedRow]) -> None:
    """A sample's test twice in one file: the later copies are errors, and the first too when they
    disagree (which is the lab's to say)."""
    first: dict[tuple[str, str], tuple[PlannedRow, dict[str, Any]]] = {}
    for row in rows:
        for result in row.results:
            if not result["sample_id"]:
                continue
            key = (result["sample_id"], result["test"])
            if key not in first:
                first[key] = (row, result)
                continue
            held_row, held = first[key]
            message = _("sample {sample} has {test} also in row {row}").format(
                sample=key[0], test=result["test"], row=held_row.row)
            row.problems.append(Problem(row.row, "", "E_DUPLICATE", message, key[0]))
            if not labs.same_reading(held, result) and not any(p.code == "E_DUPLICATE" for p in held_row.problems):
                held_row.problems.append(Problem(held_row.row, "", "E_DUPLICATE", _(
                    "sample {sample} has {test} also in row {row}").format(sample=key[0], test=result["test"], row=row.row),
                    key[0]))


def _classify(plan: ImportPlan, db: Any) -> None:
    """For each result of a matched row: new, already held unchanged, or a change of one held."""
    matched = [row for row in plan.rows if row.patient_id and row.results]
    samples = sorted({r["sample_id"] for row in matched for r in row.results if r["sample_id"]})
    patients = sorted({row.patient_id or "" for row in matched if any(not r["sample_id"] for r in row.results)})
    held: dict[tuple[str, ...], dict[str, Any]] = {}
    for sql, values, key_of in (
            ("sample_id IN ({marks})", samples, lambda r: (r["sample_id"], r["test"])),
            ("patient_id IN ({marks}) AND (sample_id IS NULL OR sample_id = '')", patients,
             lambda r: (r["patient_id"], r["test"], r["collected"]))):
        cursor_sql = ("SELECT * FROM lab_results WHERE voided IS NOT 1 AND status != 'entered-in-error' AND " + sql
                      + " ORDER BY created")
        for found in queries.rows_in(db, cursor_sql, values):
            held.setdefault(key_of(found), found)
    waiting = {canonical(parse(data).get("cells", {})): row_id for row_id, data in db.execute(
        "SELECT id, data FROM quarantined_rows WHERE voided IS NOT 1")} if any(
        row.state in ("quarantined", "already") for row in plan.rows) else {}
    for row in plan.rows:
        row.in_quarantine = waiting.get(canonical(row.cells), "") if not row.patient_id else ""
    for row in matched:
        row.actions = []
        row.problems = [p for p in row.problems if p.code not in ("W_ALREADY", "W_CORRECTS")]
        for result in row.results:
            key = (result["sample_id"], result["test"]) if result["sample_id"] else (
                row.patient_id or "", result["test"], result["collected"])
            before = held.get(key)
            column = ""
            if before is None:
                row.actions.append(("create", None))
            elif labs.same_reading(before, result) and not (before["status"] == "preliminary"):
                row.actions.append(("already", before))
                row.problems.append(Problem(row.row, column, "W_ALREADY", _("already imported, unchanged ({id})").format(
                    id=before["id"]), result.get("value") or result.get("coded") or result.get("text") or ""))
            elif labs.same_reading(before, result):
                row.actions.append(("finalise", before))
            else:
                row.actions.append(("correct" if before["status"] != "preliminary" else "finalise", before))
                if before["status"] != "preliminary":
                    row.problems.append(Problem(row.row, column, "W_CORRECTS", _(
                        "{test} was {old}: it will become {new}, corrected").format(
                        test=result["test"], old=_reading(before), new=_reading(result)), _reading(result)))


def _reading(result: dict[str, Any]) -> str:
    return " ".join(str(result.get(name)) for name in ("value", "unit", "coded", "text") if result.get(name))


def _imported(db: Any, sha256: str) -> dict[str, Any] | None:
    row = db.execute("SELECT id, created FROM lab_imports WHERE file_sha256 = ? AND status = 'committed' "
                     "AND voided IS NOT 1 ORDER BY created LIMIT 1", (sha256,)).fetchone()
    if row is None:
        return None
    return {"id": row[0], "day": queries.when(row[1])[:10]}


def check(path: str | Path, template_id: str, db: Any, *, round_id: str | None = None,
          progress: Progress | None = None) -> ImportPlan:
    """The dry run: every problem of every row, and what a commit would do. Writes nothing."""
    chosen = template(template_id)
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FieldkitError(_("{file} cannot be read: {problem}").format(file=path.name, problem=exc.strerror)) from None
    if round_id:
        round_id = screening.round_of(db, round_id)["id"]
    sheet = read_sheet(path, data, chosen)
    plan = ImportPlan(path.name, hashlib.sha256(data).hexdigest(), chosen, round_id or None)
    plan.imported_as = _imported(db, plan.sha256)
    rows = _Rows(chosen, sheet, round_id or None)
    plan.file_problems = rows.file_problems()
    if plan.file_problems:
        return plan
    samples = [_text(cells[rows.where["sample_id"]]) for _n, cells in sheet.rows
               if "sample_id" in rows.where and rows.where["sample_id"] < len(cells)]
    rows.people = _People(db, chosen.identifiers.values(), [s for s in samples if s])
    total = len(sheet.rows)
    for done, (number, cells) in enumerate(sheet.rows, 1):
        plan.rows.append(rows.plan(number, cells))
        if progress and (done % 100 == 0 or done == total):
            progress(done, total)
    _duplicates(plan.rows)
    _classify(plan, db)
    return plan


def commit(tx: Transaction, user: User, plan: ImportPlan, *, progress: Progress | None = None) -> ImportResult:
    """Write what the dry run planned, as things stand now: one import, its results, corrections,
    follow-ups and quarantined rows, in this one transaction. A file already imported is refused."""
    for entity in ("lab_import", "lab_result", "quarantined_row"):
        require_write(user.role, Write(entity, "create"))
    plan.imported_as = _imported(tx, plan.sha256)
    if plan.refusal:
        raise FieldkitError(plan.refusal)
    _classify(plan, tx)  # again: results may have arrived since the dry run
    import_id = new_id()
    counts = plan.counts
    changes = [Change("lab_import", import_id, "create", {"fields": {
        "file_sha256": plan.sha256, "file_name": plan.file_name, "template": plan.template.id,
        "template_version": plan.template.version, "lab": plan.template.lab, "round_id": plan.round_id,
        "status": "committed", "counts": counts}})]
    created = corrected = quarantined = 0
    note = _("from the lab's file {file}").format(file=plan.file_name)
    for row in plan.rows:
        if row.state == "quarantined":
            problem = next(p for p in row.problems if p.code in IDENTITY_CODES)
            changes.append(Change("quarantined_row", new_id(), "create", {"fields": {
                "import_id": import_id, "import_row": row.row, "status": "open", "problem": problem.message,
                "data": {"cells": row.cells, "results": row.results, "template": plan.template.ref}}}))
            quarantined += 1
        if row.state != "ok":
            continue
        for result, (action, before) in zip(row.results, row.actions):
            fields = {**result, "patient_id": row.patient_id, "import_id": import_id}
            lab_test = lab_codes.test(result["test"])
            if action == "create":
                changes += labs.creation(lab_test, fields)[1]
                created += 1
            elif before is not None and action in ("correct", "finalise"):
                changes += labs.correction(tx, lab_test, before, fields, note)
                corrected += 1
    follow_ups = sum(1 for c in changes if c.entity == "followup")
    follow_ups += len(labs.append(tx, user, changes, chunk=CHUNK, progress=progress))
    return ImportResult(import_id, counts, created, corrected, quarantined, follow_ups)


def error_rows(plan: ImportPlan) -> list[dict[str, Any]]:
    """The problems a person must look at, as rows of the error list: all but "already there"."""
    return [{"row": p.row, "column": p.column, "code": p.code, "message": p.message, "value": p.value}
            for p in plan.problems if p.code != "W_ALREADY"]


def errors_csv(plan: ImportPlan) -> str:
    """The error list as CSV a spreadsheet opens (UTF-8 with a BOM): row, column, code, message, value."""
    return to_csv(error_rows(plan), ERROR_COLUMNS)
