"""A lab's templates, and its file read through one: which columns hold what, the lab's names
for its tests and its words for answers; CSV (UTF-8 with or without a BOM, or UTF-16 with one),
XLSX or ODS (python-calamine) read into rows.

A template is TOML (`programme_data/lab_templates/*.toml`, or a site's `lab_templates/*.toml` in
its data directory; the higher version of an id wins). A file is "long" (one row per test: a test
column and a value column) or "wide" (one row per person, a column per test). Headers match
ignoring case, spaces, hyphens, underscores and a BOM.
"""

from __future__ import annotations

import codecs
import csv
import io
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator

from fieldkit.errors import FieldkitError
from fieldkit.i18n import _
from fieldkit.records import lab_codes, site
from fieldkit.records.alerts import first_problem
from fieldkit.records.lab_codes import label_key
from fieldkit.records.models import Record
from fieldkit.text import clean_text

FIELDS = ("sample_id", "staff_id", "national_id", "birth_date", "name", "test", "value", "unit", "flag", "collected",
          "issued", "range")
IDENTITY = ("sample_id", "staff_id", "national_id")
SPREADSHEETS = frozenset({".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"})
TEMPLATES_DIR = "lab_templates"


Headers = tuple[str, ...]


def _headers(value: Any) -> Any:
    return (value,) if isinstance(value, str) else value


class ResultColumn(Record):
    """A wide file's column holding one test's results."""

    column: Headers = Field(min_length=1)
    test: str
    unit: str = ""  # the unit the sheet gives the column, as it spells it

    _one = field_validator("column", mode="before")(_headers)


class Template(Record):
    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    version: int = Field(ge=1)
    lab: str = Field(min_length=1)
    description: str = ""
    date_format: str = ""  # strptime's, e.g. "%d/%m/%Y"; blank: day/month/year as staff type it
    encoding: str = ""  # a CSV's when it is neither UTF-8 nor UTF-16 with a BOM (e.g. "cp1256")
    sheet: str = ""  # a workbook's sheet; blank: the first
    columns: dict[str, Headers]  # field -> the headers the lab has given it
    result: tuple[ResultColumn, ...] = ()
    tests: dict[str, str] = Field(default_factory=dict)  # the lab's name for a test -> its local code
    answers: dict[str, str] = Field(default_factory=dict)  # the lab's word -> positive, negative, indeterminate
    flags: dict[str, str] = Field(default_factory=dict)  # the lab's flag -> H, L, N, A, POS, NEG, IND
    identifiers: dict[str, str] = Field(  # staff_id, national_id -> the identifier system it holds
        default_factory=lambda: {"staff_id": "staff", "national_id": "national"})

    @field_validator("columns", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return {name: _headers(headers) for name, headers in value.items()} if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _shape(self) -> "Template":
        strange = (set(self.columns) - set(FIELDS)) or (set(self.identifiers) - {"staff_id", "national_id"})
        if strange:
            raise ValueError(f"“{sorted(strange)[0]}” is not a field a lab's column can hold ({', '.join(FIELDS)})")
        long = "test" in self.columns
        if long == bool(self.result):
            raise ValueError("a template has either a test column (one row per test) or [[result]] columns (one per test)")
        if long and "value" not in self.columns:
            raise ValueError("a template with a test column needs a value column")
        if not long and {"value", "unit", "flag", "range"} & set(self.columns):
            raise ValueError("a template with [[result]] columns gives value, unit, flag and range per result")
        if "collected" not in self.columns:
            raise ValueError("a template needs the collection date's column")
        if not set(IDENTITY) & set(self.columns):
            raise ValueError("a template needs a sample id, staff id or national id column")
        if set(self.answers.values()) - set(lab_codes.ANSWERS):
            raise ValueError(f"answers are one of {', '.join(lab_codes.ANSWERS)}")
        if set(self.flags.values()) - set(lab_codes.INTERPRETATIONS):
            raise ValueError(f"flags are one of {', '.join(lab_codes.INTERPRETATIONS)}")
        return self

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"

    @property
    def long(self) -> bool:
        return not self.result

    def words(self) -> dict[str, str]:
        return {label_key(word): answer for word, answer in self.answers.items()}

    def flag_words(self) -> dict[str, str]:
        return {label_key(word): code for word, code in self.flags.items()}

    def test_names(self) -> dict[str, str]:
        return {label_key(name): code for name, code in self.tests.items()}


def _read_template(text: str, where: str) -> Template:
    try:
        found = Template.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise FieldkitError(f"{where}: {exc}") from None
    except ValidationError as exc:
        raise FieldkitError(f"{where}: {first_problem(exc)}") from None
    known = lab_codes.tests()
    named = [*found.tests.values(), *(r.test for r in found.result)]
    unknown = [code for code in named if code not in known]
    if unknown:
        raise FieldkitError(f"{where}: no lab test “{unknown[0]}” in the test table")
    return found


@site.table
def templates() -> dict[str, Template]:
    """The shipped templates and the site's; of two with one id the higher version, and two of one
    version must be the same (a stored import names `id@version`)."""
    shipped = resources.files("fieldkit.records").joinpath("programme_data", TEMPLATES_DIR)
    sources = [(entry.read_text(encoding="utf-8"), entry.name) for entry in sorted(
        shipped.iterdir(), key=lambda e: e.name) if entry.name.endswith(".toml")]
    own = site.directory()
    if own is not None and (own / TEMPLATES_DIR).is_dir():
        sources += [(path.read_text(encoding="utf-8"), str(path)) for path in sorted((own / TEMPLATES_DIR).glob("*.toml"))]
    found: dict[str, Template] = {}
    for text, where in sources:
        candidate = _read_template(text, where)
        held = found.get(candidate.id)
        if held is not None and held.version == candidate.version and held != candidate:
            raise FieldkitError(f"{where}: template “{candidate.id}” version {candidate.version} differs from "
                                "another of that version; give the changed one a higher version")
        if held is None or candidate.version > held.version:
            found[candidate.id] = candidate
    return found


def template(template_id: str) -> Template:
    found = templates()
    if template_id not in found:
        raise FieldkitError(_("no lab template “{id}” (known: {known})").format(id=template_id, known=", ".join(found)))
    return found[template_id]


# -- reading the file --------------------------------------------------------------------------------

@dataclass
class Sheet:
    headers: list[str]
    rows: list[tuple[int, list[Any]]]  # (row number as a spreadsheet shows it, cells)


def _blank(cells: Iterable[Any]) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in cells)


def _table(lines: list[list[Any]]) -> Sheet:
    numbered = [(number, cells) for number, cells in enumerate(lines, 1) if not _blank(cells)]
    if not numbered:
        raise FieldkitError(_("the file holds no rows"))
    (_first, header), *rows = numbered
    return Sheet([clean_text(str(h)) if h is not None else "" for h in header], rows)


def _decode(data: bytes, encoding: str, name: str) -> str:
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8", errors="strict")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    try:
        return data.decode(encoding or "utf-8")
    except (UnicodeDecodeError, LookupError):
        raise FieldkitError(_("{file} is not UTF-8 text: save it as “CSV UTF-8”, or name its encoding in the "
                              "template").format(file=name)) from None


def _csv(text: str) -> Sheet:
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max((",", ";", "\t"), key=first.count)  # Excel writes ";" where "," is the decimal comma
    return _table(list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)))


def _workbook(data: bytes, sheet_name: str, name: str) -> Sheet:
    from python_calamine import CalamineError, CalamineWorkbook

    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheet = book.get_sheet_by_name(sheet_name) if sheet_name else book.get_sheet_by_index(0)
        return _table(sheet.to_python(skip_empty_area=False))
    except (CalamineError, ValueError, OSError) as exc:
        raise FieldkitError(_("{file} cannot be read as a spreadsheet: {problem}").format(file=name, problem=exc)) from None


def read_sheet(path: Path, data: bytes, chosen: Template) -> Sheet:
    """A file's header and rows: a workbook's first sheet (or the template's), or CSV text."""
    if path.suffix.casefold() in SPREADSHEETS or data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        return _workbook(data, chosen.sheet, path.name)
    return _csv(_decode(data, chosen.encoding, path.name))


# -- the plan ------------------------------------------------------------------------------------------

