"""The clinical record as validated data: patients, encounters, vital signs and their tasks.

Validation is where bad input stops: a physiologically impossible value is refused with a message
naming the field, the value and the possible range; numbers typed with Arabic-Indic or Persian
digits or the Arabic decimal separator become ordinary numbers; names and identifiers are
NFC-normalised with bidi controls removed (`fieldkit.text`). Alarming but possible values pass
and are reported by `Vitals.warnings()`, because a sick patient's real reading must be savable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from fieldkit.errors import FieldkitError
from fieldkit.i18n import N_, _, day
from fieldkit.records.dates import parse_day
from fieldkit.records.names import NameOrder, full_name
from fieldkit.records.problems import describe_error as describe_error
from fieldkit.text import ascii_digits, clean_text, parse_number

Sex = Literal["female", "male", "other", "unknown"]
Avpu = Literal["A", "C", "V", "P", "U"]  # C: new confusion (NEWS2's ACVPU)
EncounterKind = Literal["visit", "teletriage", "home", "screening", "vaccination"]
Urgency = Literal["routine", "urgent", "emergency"]

PRESCRIPTION_PARTS = ("drug", "dose", "route", "frequency", "duration_days")
OLDEST_BIRTH = date(1900, 1, 1)
MAX_AGE_YEARS = 125
_PHONE = re.compile(r"\+?[0-9]{6,15}")
_ICD10 = re.compile(r"[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?")


@dataclass(frozen=True)
class Measure:
    """One vital sign: how it is labelled, coded and bounded.

    `possible` bounds what a living patient can show (outside: refused as a typing or device
    error); `alarming` bounds the usual range (outside: saved, with a warning). LOINC and UCUM
    codes are those of FHIR's vital-signs profile (reference/ecosystem.md 2.2).
    """

    label: str
    unit: str
    ucum: str
    loinc: str
    possible: tuple[float, float]
    alarming: tuple[float, float]
    decimals: int = 0


MEASURES: dict[str, Measure] = {
    "temperature_c": Measure(N_("Temperature"), "°C", "Cel", "8310-5", (25, 45), (35.0, 39.5), 1),
    "pulse": Measure(N_("Pulse"), "/min", "/min", "8867-4", (20, 300), (40, 130)),
    "resp_rate": Measure(N_("Respiratory rate"), "/min", "/min", "9279-1", (2, 100), (8, 30)),
    "systolic_bp": Measure(N_("Systolic BP"), "mmHg", "mm[Hg]", "8480-6", (40, 300), (90, 180)),
    "diastolic_bp": Measure(N_("Diastolic BP"), "mmHg", "mm[Hg]", "8462-4", (20, 200), (40, 110)),
    "spo2": Measure(N_("SpO2"), "%", "%", "2708-6", (40, 100), (92, 100)),
    "weight_kg": Measure(N_("Weight"), "kg", "kg", "29463-7", (0.3, 350), (0.3, 350), 1),
    "height_cm": Measure(N_("Height"), "cm", "cm", "8302-2", (20, 250), (20, 250), 1),
    "muac_mm": Measure(N_("MUAC"), "mm", "mm", "56072-2", (50, 500), (125, 500)),
}
# Glucose is stored in the unit the meter showed; never converted silently (factor about 18).
GLUCOSE: dict[str, Measure] = {
    "mg/dL": Measure(N_("Blood glucose"), "mg/dL", "mg/dL", "41653-7", (10, 1500), (70, 250)),
    "mmol/L": Measure(N_("Blood glucose"), "mmol/L", "mmol/L", "15074-8", (0.5, 85), (3.9, 14), 1),
}


def _format(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}" if decimals else f"{value:g}"


def round_half_up(value: float, decimals: int = 0) -> float:
    """Rounding as taught and charted (35.05 -> 35.1), not binary float's round-half-even."""
    return float(Decimal(str(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def check_measure(measure: Measure, value: Any) -> float:
    """Parse a typed reading and refuse it outside the possible range."""
    try:
        number = round_half_up(parse_number(value), max(measure.decimals, 1))
    except ValueError:
        raise ValueError(_("“{typed}” is not a number").format(typed=value)) from None
    low, high = measure.possible
    if not low <= number <= high:
        raise ValueError(_("{value} {unit} is not possible (allowed {low}–{high} {unit})").format(
            value=_format(number, measure.decimals), unit=_(measure.unit), low=f"{low:g}", high=f"{high:g}"))
    return number


def alarm(measure: Measure, value: float) -> str | None:
    low, high = measure.alarming
    if not low <= value <= high:
        message = _("{label} {value} {unit} is very low") if value < low else _("{label} {value} {unit} is very high")
        return message.format(label=_(measure.label), value=_format(value, measure.decimals), unit=_(measure.unit))
    return None


def age_in_years(birth: date, on: date | None = None) -> float:
    return ((on or date.today()) - birth).days / 365.25


def _text(value: Any) -> Any:
    return clean_text(value) if isinstance(value, str) else value


def _optional_text(value: Any) -> Any:
    """Blank means absent: an empty reading field was not measured, not measured as zero."""
    value = _text(value)
    return None if value == "" else value


class Record(BaseModel):
    # Built on first use, not at import: a command that validates a patient builds only that model.
    model_config = ConfigDict(extra="forbid", frozen=True, str_max_length=500, defer_build=True)


class Vitals(Record):
    temperature_c: float | None = None
    pulse: float | None = None
    resp_rate: float | None = None
    systolic_bp: float | None = None
    diastolic_bp: float | None = None
    spo2: float | None = None
    on_oxygen: bool = False
    avpu: Avpu | None = None
    weight_kg: float | None = None
    height_cm: float | None = None
    muac_mm: float | None = None
    glucose: float | None = None
    glucose_unit: Literal["mg/dL", "mmol/L"] = "mg/dL"

    @field_validator(*MEASURES, mode="before")
    @classmethod
    def _possible(cls, value: Any, info) -> float | None:
        value = _optional_text(value)
        return None if value is None else check_measure(MEASURES[info.field_name], value)

    @field_validator("glucose", mode="before")
    @classmethod
    def _number(cls, value: Any) -> float | None:
        value = _optional_text(value)
        try:
            return None if value is None else parse_number(value)
        except ValueError:
            raise ValueError(_("“{typed}” is not a number").format(typed=value)) from None

    @field_validator("avpu", mode="before")
    @classmethod
    def _avpu(cls, value: Any) -> Any:
        value = _optional_text(value)
        return value.upper() if isinstance(value, str) else value

    # Checks across fields sit on the later field, so a refusal names the field to correct.
    @field_validator("diastolic_bp")
    @classmethod
    def _below_systolic(cls, value: float | None, info) -> float | None:
        systolic = info.data.get("systolic_bp")
        if value is not None and systolic is not None and value >= systolic:
            raise ValueError(_("{diastolic} must be below systolic {systolic} (were they swapped?)").format(
                diastolic=f"{value:g}", systolic=f"{systolic:g}"))
        return value

    @field_validator("glucose_unit")
    @classmethod
    def _glucose_possible(cls, unit: str, info) -> str:
        if info.data.get("glucose") is not None:
            check_measure(GLUCOSE[unit], info.data["glucose"])
        return unit

    def warnings(self) -> list[str]:
        """Alarming but possible readings, for the person recording them to double-check."""
        found = [alarm(measure, getattr(self, name)) for name, measure in MEASURES.items()
                 if getattr(self, name) is not None]
        if self.glucose is not None:
            found.append(alarm(GLUCOSE[self.glucose_unit], self.glucose))
        return [message for message in found if message]

    def to_fields(self) -> dict[str, Any]:
        fields = self.model_dump(mode="json", exclude_none=True)
        if self.glucose is None:
            del fields["glucose_unit"]
        return fields


class Patient(Record):
    given_name: str = Field(max_length=100)
    family_name: str = Field("", max_length=100)
    other_names: str = Field("", max_length=200)
    sex: Sex = "unknown"
    birth_date: date | None = None
    birth_date_estimated: bool = False
    phone: str = ""
    identifiers: dict[str, str] = Field(default_factory=dict, max_length=10)
    locality: str = Field("", max_length=100)
    allergies: list[str] = Field(default_factory=list, max_length=30)
    merged_into: str | None = None
    voided: bool = False
    name_order: NameOrder | None = None  # None: given name first, the default kept out of the journal

    @field_validator("given_name", "family_name", "other_names", "locality", mode="before")
    @classmethod
    def _clean(cls, value: Any) -> Any:
        return "" if value is None else _text(value)

    @field_validator("name_order", mode="before")
    @classmethod
    def _usual_order(cls, value: Any) -> Any:
        return None if value in ("given-first", "") else value

    @field_validator("merged_into", mode="before")
    @classmethod
    def _link(cls, value: Any) -> Any:
        return _optional_text(value)

    @field_validator("given_name")
    @classmethod
    def _has_letters(cls, value: str) -> str:
        if not any(ch.isalpha() for ch in value):
            raise ValueError(_("a name needs at least one letter"))
        return value

    @field_validator("birth_date", mode="before")
    @classmethod
    def _birth_date(cls, value: Any) -> Any:
        value = _optional_text(value)
        return parse_day(value) if isinstance(value, str) else value

    @field_validator("birth_date")
    @classmethod
    def _plausible_birth(cls, value: date | None) -> date | None:
        if value is not None and value > date.today():
            raise ValueError(_("{day} is in the future: a birth date cannot be").format(day=day(value)))
        if value is not None and value < OLDEST_BIRTH:
            raise ValueError(_("{day} is not a possible birth date (from {first} to today)").format(
                day=day(value), first=day(OLDEST_BIRTH)))
        return value

    @field_validator("phone", mode="before")
    @classmethod
    def _phone(cls, value: Any) -> str:
        value = _optional_text(value)
        if value is None:
            return ""
        # Stored as digits with an optional leading +, however it was grouped when typed.
        compact = re.sub(r"[\s().-]", "", ascii_digits(str(value)))
        if compact.startswith("00"):
            compact = "+" + compact[2:]
        if not _PHONE.fullmatch(compact):
            raise ValueError(_("“{typed}” is not a phone number (6 to 15 digits, optional leading +)").format(
                typed=value))
        return compact

    @field_validator("identifiers", mode="before")
    @classmethod
    def _identifiers(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        cleaned = {}
        for system, ident in value.items():
            system, ident = clean_text(str(system)).casefold(), ascii_digits(clean_text(str(ident)))
            if not system or not ident:
                raise ValueError(_("an identifier needs a system and a value, like national=29801011234567"))
            cleaned[system] = ident
        return cleaned

    @field_validator("allergies", mode="before")
    @classmethod
    def _allergies(cls, value: Any) -> Any:
        if not isinstance(value, (list, tuple)):
            return value
        cleaned = [clean_text(str(item)) for item in value]
        return list(dict.fromkeys(item for item in cleaned if item))

    @model_validator(mode="after")
    def _estimate_needs_date(self) -> "Patient":
        if self.birth_date_estimated and self.birth_date is None:
            raise ValueError(_("an estimated birth date needs a date (give the age instead)"))
        return self

    @property
    def full_name(self) -> str:
        return full_name(vars(self))

    @staticmethod
    def estimated_birth_date(age_years: float, today: date | None = None) -> date:
        """The birth date of someone `age_years` old today (fractions for infants: 0.5 is 6 months)."""
        if not 0 <= age_years <= MAX_AGE_YEARS:
            raise ValueError(_("{age} years is not possible (0–{oldest})").format(age=f"{age_years:g}", oldest=MAX_AGE_YEARS))
        today = today or date.today()
        whole = int(age_years)
        try:
            anchor = today.replace(year=today.year - whole)
        except ValueError:  # 29 February in a year without one
            anchor = today.replace(year=today.year - whole, day=28)
        return anchor - timedelta(days=round((age_years - whole) * 365.25))

    def to_fields(self) -> dict[str, Any]:
        """The journal's field values: absent, blank and false fields are left out."""
        return {name: value for name, value in self.model_dump(mode="json").items()
                if value not in (None, "", [], {}, False)}


def estimated_birth(age: str | float) -> dict[str, Any]:
    """The birth-date fields of someone whose age alone is known, as typed in any script."""
    label = _("Age")
    try:
        years = parse_number(age)
    except ValueError:
        raise FieldkitError(f"{label}: " + _("“{typed}” is not a number").format(typed=age)) from None
    try:
        born = Patient.estimated_birth_date(years)
    except ValueError as exc:
        raise FieldkitError(f"{label}: {exc}") from None
    return {"birth_date": born.isoformat(), "birth_date_estimated": True}


class Diagnosis(Record):
    code: str | None = None  # ICD-10
    text: str = Field("", max_length=300)

    @field_validator("code", "text", mode="before")
    @classmethod
    def _clean(cls, value: Any) -> Any:
        return _text(value)

    @field_validator("code")
    @classmethod
    def _icd10(cls, value: str | None) -> str | None:
        if not value:
            return None
        code = value.upper()
        if not _ICD10.fullmatch(code):
            raise ValueError(_("“{typed}” is not an ICD-10 code (like J18.9)").format(typed=value))
        return code

    @model_validator(mode="after")
    def _something(self) -> "Diagnosis":
        if not self.code and not self.text:
            raise ValueError(_("a diagnosis needs a code or a text"))
        return self


class Prescription(Record):
    drug: str = Field(min_length=1, max_length=200)
    dose: str = ""
    route: str = ""
    frequency: str = ""
    duration_days: int | None = Field(None, ge=1, le=365)

    @field_validator("drug", "dose", "route", "frequency", mode="before")
    @classmethod
    def _clean(cls, value: Any) -> Any:
        return _text(value)

    @field_validator("duration_days", mode="before")
    @classmethod
    def _days(cls, value: Any) -> Any:
        value = _optional_text(value)
        try:
            return None if value is None else parse_number(value)
        except ValueError:
            raise ValueError(_("“{typed}” is not a number").format(typed=value)) from None


class Referral(Record):
    to_facility: str = Field(min_length=1, max_length=200)
    reason: str = ""
    urgency: Urgency = "routine"

    @field_validator("to_facility", "reason", mode="before")
    @classmethod
    def _clean(cls, value: Any) -> Any:
        return _text(value)


class FollowUp(Record):
    due: date
    reason: str = ""

    @field_validator("due", mode="before")
    @classmethod
    def _day(cls, value: Any) -> Any:
        return parse_day(value) if isinstance(value, str) else value

    @field_validator("reason", mode="before")
    @classmethod
    def _clean(cls, value: Any) -> Any:
        return _text(value)


def diagnosis_from_text(text: str) -> dict[str, str]:
    """A diagnosis typed on one line: "J18.9:pneumonia", or only the text."""
    return dict(zip(("code", "text"), text.split(":", 1))) if ":" in text else {"text": text}


def prescription_from_text(text: str) -> dict[str, str]:
    """A prescription typed on one line: "drug;dose;route;frequency;days", the tail optional."""
    return {name: value for name, value in zip(PRESCRIPTION_PARTS, (part.strip() for part in text.split(";")))
            if value}


class Encounter(Record):
    """What was recorded at one contact; immutable once saved (corrections are amendments)."""

    patient_id: str = Field(min_length=1)
    kind: EncounterKind = "visit"
    vitals: Vitals = Field(default_factory=Vitals)
    hypercapnic: bool = False  # NEWS2 SpO2 scale 2, for patients with a prescribed 88-92% target
    diagnoses: list[Diagnosis] = Field(default_factory=list, max_length=20)
    prescriptions: list[Prescription] = Field(default_factory=list, max_length=30)
    referral: Referral | None = None
    follow_up: FollowUp | None = None
    notes: str = Field("", max_length=5000)

    @field_validator("notes", mode="before")
    @classmethod
    def _clean(cls, value: Any) -> Any:
        return _text(value)

    def to_fields(self) -> dict[str, Any]:
        """The encounter entry's payload; the referral and follow-up are journalled as tasks."""
        fields = self.model_dump(mode="json", exclude={"referral", "follow_up", "vitals"})
        fields["vitals"] = self.vitals.to_fields()
        return fields
