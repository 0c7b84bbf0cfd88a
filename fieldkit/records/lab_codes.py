"""The lab tests fieldkit records, and how a reported result is read against them.

The table is data (`programme_data/lab_tests.toml`, plus a site's own `lab_tests.toml` in its data
directory, read once per process like the site's other tables): each test's local code, LOINC code
and long name, how its result is given (a quantity, a coded answer, text), the UCUM units it may be
reported in and the default reference range for each. A table whose LOINC code fails LOINC's check
digit is refused when read, so a typo cannot reach a stored result.

Reading a result never changes what the lab said: a quantity is kept as the decimal text reported
("4.50" stays "4.50"; digits in any script become ASCII), and a unit is accepted only as UCUM spells
it or through the table's explicit alias list, never converted. Each refusal is a `LabProblem` whose
`code` an import reports beside the row and column.
"""

from __future__ import annotations

import re
import tomllib
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from fieldkit.errors import FieldkitError
from fieldkit.i18n import N_, _
from fieldkit.records import site
from fieldkit.records.alerts import first_problem
from fieldkit.records.models import Record
from fieldkit.text import ascii_digits, clean_text

TABLE_FILE = "lab_tests.toml"
Kind = Literal["quantity", "coded", "text"]
ANSWERS = ("positive", "negative", "indeterminate")
ANSWER_WORDS = {"positive": N_("positive"), "negative": N_("negative"), "indeterminate": N_("indeterminate")}
# HL7 v3 ObservationInterpretation codes: what a range or an answer says of a result.
INTERPRETATIONS = {"H": N_("high"), "L": N_("low"), "N": N_("normal"), "A": N_("abnormal"), "POS": N_("positive"),
                   "NEG": N_("negative"), "IND": N_("indeterminate")}
ANSWER_INTERPRETATION = {"positive": "POS", "negative": "NEG", "indeterminate": "IND"}
# A lab's result flag as labs print it -> its interpretation code.
FLAGS = {"h": "H", "high": "H", "hh": "H", "l": "L", "low": "L", "ll": "L", "n": "N", "normal": "N", "a": "A",
         "abnormal": "A", "pos": "POS", "positive": "POS", "neg": "NEG", "negative": "NEG", "ind": "IND",
         "indeterminate": "IND", "equivocal": "IND"}
BLANK = frozenset({"", "-", "—", "–", "n/a", "na"})  # what a lab prints in a cell it leaves empty
_DECIMAL = re.compile(r"[+-]?\d+(\.\d+)?")
_LOINC = re.compile(r"\d{1,7}-\d")
_RANGE = re.compile(r"(?P<low>[+-]?\d+(?:\.\d+)?)\s*(?:-|–|—|to)\s*(?P<high>[+-]?\d+(?:\.\d+)?)")
_LABEL_NOISE = re.compile(r"[\s_\-\ufeff]+")
_BOUND = re.compile(r"(?P<op><=|>=|<|>|≤|≥)\s*(?P<number>[+-]?\d+(?:\.\d+)?)")


class LabProblem(FieldkitError):
    """A reported result that cannot be recorded as it is; `code` names the kind for an import's report."""

    code = "E_VALUE"
    field = "value"  # the part of a result it is about: value, unit, flag or test


class UnknownTest(LabProblem):
    code = "E_UNKNOWN_TEST"
    field = "test"


class UnitProblem(LabProblem):
    code = "E_UNIT"
    field = "unit"


class FlagProblem(LabProblem):
    field = "flag"


def label_key(text: str) -> str:
    """A header, a lab's name for a test or its word for an answer, as compared: case, spaces,
    underscores, hyphens and a byte-order mark aside ("Sample_ID", "sample id", "\ufeffSample-Id")."""
    return _LABEL_NOISE.sub("", clean_text(str(text))).casefold()


def check_digit(loinc: str) -> bool:
    """LOINC's mod-10 check digit (the Luhn algorithm over the digits before the hyphen)."""
    if not _LOINC.fullmatch(loinc):
        return False
    body, digit = loinc.split("-")
    total = 0
    for position, char in enumerate(reversed(body)):
        n = int(char) * (2 if position % 2 == 0 else 1)
        total += n // 10 + n % 10
    return (10 - total % 10) % 10 == int(digit)


def _loinc(code: str) -> str:
    if not check_digit(code):
        raise ValueError(f"“{code}” is not a LOINC code (its check digit is wrong)")
    return code


class Range(Record):
    """A reference range: either bound may be open; `text` where the lab wrote words."""

    low: Decimal | None = None
    high: Decimal | None = None
    text: str = ""

    @field_validator("low", "high", mode="before")
    @classmethod
    def _exact(cls, value: Any) -> Any:
        return str(value) if isinstance(value, float) else value  # 3.9 from TOML, not 3.899999…

    def bounds(self) -> tuple[str | None, str | None]:
        return (None if self.low is None else str(self.low)), (None if self.high is None else str(self.high))


class LabTest(Record):
    code: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    name: str = Field(min_length=1)  # what staff call it: "HBsAg"
    loinc: str
    display: str = Field(min_length=1)  # LOINC's long name
    kind: Kind
    units: tuple[str, ...] = ()
    unit_loinc: dict[str, str] = Field(default_factory=dict)  # a unit whose result has a code of its own
    range: dict[str, Range] = Field(default_factory=dict)  # by unit
    follow_up: frozenset[str] = frozenset()  # interpretations that raise a follow-up task
    answers: dict[str, str] = Field(default_factory=dict)  # the table's answers, filled in when read

    @field_validator("loinc")
    @classmethod
    def _checked(cls, value: str) -> str:
        return _loinc(value)

    @field_validator("unit_loinc")
    @classmethod
    def _checked_each(cls, value: dict[str, str]) -> dict[str, str]:
        return {unit: _loinc(code) for unit, code in value.items()}

    @model_validator(mode="after")
    def _consistent(self) -> "LabTest":
        if (self.kind == "quantity") != bool(self.units):
            raise ValueError(f"{self.code}: a quantity lists its units, and only a quantity has any")
        stray = (set(self.unit_loinc) | set(self.range)) - set(self.units)
        if stray:
            raise ValueError(f"{self.code}: “{sorted(stray)[0]}” is not one of its units")
        unknown = self.follow_up - set(INTERPRETATIONS)
        if unknown:
            raise ValueError(f"{self.code}: follow_up “{sorted(unknown)[0]}” is not an interpretation code")
        return self

    def loinc_for(self, unit: str) -> str:
        return self.unit_loinc.get(unit, self.loinc)


class Table(Record):
    version: int = Field(ge=1)
    unit_aliases: dict[str, str] = Field(default_factory=dict)
    answers: dict[str, str] = Field(default_factory=dict)
    test: tuple[LabTest, ...] = ()


def _read(text: str, where: str) -> Table:
    try:
        return Table.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise FieldkitError(f"{where}: {exc}") from None
    except ValidationError as exc:
        raise FieldkitError(f"{where}: {first_problem(exc)}") from None


@site.table
def table() -> Table:
    """The shipped table, with a site's tests and aliases added (its codes replace shipped ones)."""
    shipped = _read(resources.files("fieldkit.records").joinpath("programme_data", TABLE_FILE).read_text(
        encoding="utf-8"), TABLE_FILE)
    own = Path(own_dir) / TABLE_FILE if (own_dir := site.directory()) else None
    tests = {t.code: t for t in shipped.test}
    aliases, answers = dict(shipped.unit_aliases), dict(shipped.answers)
    if own is not None and own.is_file():
        local = _read(own.read_text(encoding="utf-8"), str(own))
        tests |= {t.code: t for t in local.test}
        aliases |= local.unit_aliases
        answers |= local.answers
    if set(answers) - set(ANSWERS):
        raise FieldkitError(f"{TABLE_FILE}: answers are {', '.join(ANSWERS)}")
    coded = {code: answers.get(code, "") for code in ANSWERS}
    return Table(version=shipped.version, unit_aliases=aliases, answers=coded, test=tuple(
        t.model_copy(update={"answers": coded if t.kind == "coded" else {}}) for t in tests.values()))


def tests() -> dict[str, LabTest]:
    """Every test by its local code."""
    return {t.code: t for t in table().test}


def test(code: str) -> LabTest:
    found = tests().get(clean_text(code).casefold())
    if found is None:
        raise UnknownTest(_("no lab test “{code}” (known: {known})").format(code=code, known=", ".join(tests())))
    return found


# The shipped test table's names, for the catalogue (a test keeps it in step with lab_tests.toml):
# a translation may keep the names clinicians say as they are (HBsAg, HbA1c).
SHIPPED_TEXT = (N_("HBsAg"), N_("Anti-HBs"), N_("Anti-HBs (qualitative)"), N_("Anti-HBc (total)"), N_("Anti-HCV"),
                N_("HIV-1/2 Ab + p24 Ag"), N_("HIV rapid test"), N_("HbA1c"), N_("Glucose"), N_("Haemoglobin"))
COUNTED = frozenset({"final", "corrected"})  # the results summaries, immunity and follow-ups read
COMPARATORS = {"<": "<", "<=": "<=", "≤": "<=", ">": ">", ">=": ">=", "≥": ">="}  # FHIR's Quantity.comparator codes


def limited(typed: Any) -> tuple[str, str]:
    """A reported quantity that may be a limit ("<10", "> 1000", "≥5"): its comparator (blank for
    a measured value) and its decimal text. A limit is kept as a limit, never read as the number
    it names: "<10" taken as 10 would say immune."""
    text = clean_text(str(typed)) if isinstance(typed, str) else ""
    for sign in sorted(COMPARATORS, key=len, reverse=True):
        if text.startswith(sign):
            return COMPARATORS[sign], decimal_text(text[len(sign):])
    return "", decimal_text(typed)


def decimal_text(typed: Any) -> str:
    """A reported quantity as decimal text, exactly as reported: digits in any script made ASCII,
    the Arabic decimal separator or a lone decimal comma made a point; anything else is refused.
    "1,000" could be a thousand or one: refused rather than guessed."""
    if isinstance(typed, bool):
        raise LabProblem(_("“{typed}” is not a number").format(typed=typed))
    if isinstance(typed, int):
        return str(typed)
    if isinstance(typed, float):  # a spreadsheet's number: its shortest exact spelling
        text = repr(typed)
        return text[:-2] if text.endswith(".0") else text
    text = ascii_digits(clean_text(str(typed))).replace("\u066b", ".").replace(" ", "")
    if text.count(",") == 1 and "." not in text and len(text.split(",")[1]) != 3:
        text = text.replace(",", ".")
    if not _DECIMAL.fullmatch(text):
        raise LabProblem(_("“{typed}” is not a number").format(typed=typed))
    return text


def ucum(lab_test: LabTest, typed: str, aliases: dict[str, str] | None = None) -> str:
    """The UCUM code of the unit a result was reported in; a unit the test does not allow, or a
    quantity without a unit, is refused (UnitProblem)."""
    text = clean_text(typed or "")
    if text.casefold() in BLANK:
        text = ""
    unit = (table().unit_aliases if aliases is None else aliases).get(text, text)
    if lab_test.kind != "quantity":
        if unit:
            raise UnitProblem(_("{test} takes no unit, but “{unit}” was given").format(test=lab_test.name, unit=typed))
        return ""
    if unit not in lab_test.units:
        allowed = ", ".join(lab_test.units)
        if not unit:
            raise UnitProblem(_("{test} needs its unit ({units})").format(test=lab_test.name, units=allowed))
        raise UnitProblem(_("“{unit}” is not a unit of {test} ({units}); units are never converted").format(
            unit=typed, test=lab_test.name, units=allowed))
    return unit


def answer(lab_test: LabTest, typed: Any, words: dict[str, str] | None = None) -> str:
    """A coded result's answer ("positive", "negative", "indeterminate"), from the answer itself or
    a lab's word for it (`words`: a template's, keyed by `label_key`)."""
    text = label_key(typed)
    found = text if text in lab_test.answers else (words or {}).get(text)
    if found not in ANSWERS:
        raise LabProblem(_("“{typed}” is not a result of {test} (one of: {answers})").format(
            typed=typed, test=lab_test.name, answers=", ".join(ANSWERS)))
    return found


def flag(typed: str, words: dict[str, str] | None = None) -> str:
    """A lab's result flag as an interpretation code; blank is none."""
    text = clean_text(typed or "").casefold()
    if text in BLANK:
        return ""
    found = (words or {}).get(label_key(text)) or FLAGS.get(text)
    if found is None:
        raise FlagProblem(_("“{typed}” is not a result flag (H, L, N, A, POS, NEG)").format(typed=typed))
    return found


def parse_range(typed: str) -> Range:
    """A printed reference range: "3.5-5.0", "< 10", "≥10"; words are kept as text."""
    text = ascii_digits(clean_text(typed or "")).replace("\u066b", ".")
    if text.casefold() in BLANK:
        return Range()
    if found := _RANGE.fullmatch(text):
        return Range(low=Decimal(found["low"]), high=Decimal(found["high"]))
    if found := _BOUND.fullmatch(text):
        bound = Decimal(found["number"])
        return Range(high=bound) if found["op"] in ("<", "<=", "≤") else Range(low=bound)
    return Range(text=text)


def interpret(lab_test: LabTest, *, value: str = "", coded: str = "", bounds: Range | None = None,
              comparator: str = "") -> str:
    """What a result says against its range (H, L, N) or as an answer (POS, NEG, IND); blank when
    there is nothing to compare it with, or when a limit does not say which side of it it is."""
    if coded:
        return ANSWER_INTERPRETATION[coded]
    if not value or bounds is None or (bounds.low is None and bounds.high is None):
        return ""
    try:
        number = Decimal(value)
    except InvalidOperation:
        return ""
    below, above = comparator.startswith("<"), comparator.startswith(">")
    if bounds.low is not None and (number < bounds.low or (below and number <= bounds.low)):
        return "L"
    if bounds.high is not None and (number > bounds.high or (above and number >= bounds.high)):
        return "H"
    if (below and bounds.low is not None) or (above and bounds.high is not None):
        return ""  # "<50" against a range from 10: it may be either side
    return "N"
