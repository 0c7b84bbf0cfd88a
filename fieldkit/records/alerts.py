"""Alert bands for follow-up check-ins: red, amber or none, from a cited, versioned table.

Thresholds differ by source (WHO, Vietnam, Korea: reference/clinical.md B), so they are data
(`programme_data/alert_bands.toml`), never constants in code, and every alert carries the
rule set's `id@version`: a later change of thresholds never rewrites what an old check-in said.
The table writes each band as an inclusive range at the precision the reading is charted in,
and loading refuses a table whose bands leave a gap or overlap, so every edge is explicit.
Readings are rounded half-up to that precision first (93.5 % is 94 %), as the scores are.
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from fieldkit.errors import FieldkitError
from fieldkit.i18n import N_, _
from fieldkit.records.models import MEASURES, Record, check_measure, round_half_up
from fieldkit.text import parse_number

BANDS_FILE = Path(__file__).parent / "programme_data" / "alert_bands.toml"
Level = Literal["none", "amber", "red"]
RANK: dict[str, int] = {"none": 0, "amber": 1, "red": 2}
LEVEL_LABELS = {"none": N_("none"), "amber": N_("amber"), "red": N_("red")}

# The symptoms a check-in form offers, by code; the rule set says which are red or amber.
SYMPTOMS: dict[str, str] = {
    "breathless_rest": N_("Breathless at rest"),
    "chest_pain": N_("Chest pain"),
    "confusion": N_("Confusion"),
    "cannot_drink": N_("Cannot drink"),
    "blue_lips": N_("Blue lips or face"),
    "breathless_exertion": N_("Breathless on exertion"),
    "fever_3_days": N_("Fever over 3 days"),
    "vomiting": N_("Vomiting"),
    "diarrhoea": N_("Diarrhoea"),
}


def _shown(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}" if decimals else f"{value:g}"


class Band(Record):
    level: Level
    low: float
    high: float


class Ruleset(Record):
    id: str
    version: int = Field(ge=1)
    name: str
    citations: tuple[str, ...] = Field(min_length=1)
    bands: dict[str, tuple[Band, ...]]
    symptoms: dict[Literal["red", "amber"], tuple[str, ...]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _complete(self) -> "Ruleset":
        """Each measure's bands tile its possible range exactly: no reading falls between two."""
        for name, bands in self.bands.items():
            if name not in MEASURES:
                raise ValueError(f"bands for “{name}”, which is not a measure ({', '.join(MEASURES)})")
            measure = MEASURES[name]
            step = 10.0 ** -measure.decimals
            expected = float(measure.possible[0])
            for band in bands:
                if band.low != expected or band.high < band.low:
                    raise ValueError(f"{name}: the band {band.low:g}–{band.high:g} should start at {expected:g}")
                expected = round(band.high + step, measure.decimals)
            if bands[-1].high != measure.possible[1]:
                raise ValueError(f"{name}: the last band should end at {measure.possible[1]:g}")
        listed = [code for codes in self.symptoms.values() for code in codes]
        for code in listed:
            if code not in SYMPTOMS:
                raise ValueError(f"“{code}” is not a symptom ({', '.join(SYMPTOMS)})")
        if len(set(listed)) != len(listed):
            raise ValueError("a symptom is listed twice")
        return self

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"


@dataclass(frozen=True)
class Alert:
    level: Level
    reasons: tuple[str, ...]  # translated one-liners, red first
    ruleset: str  # id@version, stored with the check-in


def read_rulesets(path: Path) -> dict[str, Ruleset]:
    """Every rule set in a TOML table file; a bad file is one line naming it and the problem."""
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
        return {key: Ruleset.model_validate({"id": key, **value}) for key, value in data.items()}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise FieldkitError(f"{path.name}: {exc}") from None
    except ValidationError as exc:
        raise FieldkitError(f"{path.name}: {first_problem(exc)}") from None


def first_problem(exc: ValidationError) -> str:
    """A configuration file's first problem on one line: where it is and what is wrong."""
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    context = error.get("ctx") or {}
    message = str(context["error"]) if "error" in context else error["msg"]
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {message}{more}" if where else f"{message}{more}"


@cache
def _shipped() -> dict[str, Ruleset]:
    return read_rulesets(BANDS_FILE)


def load_ruleset(ruleset_id: str) -> Ruleset:
    rulesets = _shipped()
    if ruleset_id not in rulesets:
        raise FieldkitError(_("no alert rule set “{id}” (known: {known})").format(
            id=ruleset_id, known=", ".join(rulesets)))
    return rulesets[ruleset_id]


def _band_reason(name: str, value: float, band: Band, first: bool, last: bool) -> str:
    measure = MEASURES[name]
    low, high = _shown(band.low, measure.decimals), _shown(band.high, measure.decimals)
    where = (_("{high} or less").format(high=high) if first else _("{low} or more").format(low=low) if last
             else f"{low}–{high}")
    return _("{label} {value} {unit} is {level} ({where})").format(
        label=_(measure.label), value=_shown(value, measure.decimals), unit=_(measure.unit),
        level=_(LEVEL_LABELS[band.level]), where=where)


def classify(ruleset: Ruleset, readings: Mapping[str, float | str | None], symptoms: Collection[str]) -> Alert:
    """The highest band any reading or symptom reaches, with every amber and red reason.

    A missing reading (None or blank) is not alarming: it is simply not classified. Readings
    without bands in the rule set (blood pressure here) are ignored. An impossible reading or an
    unknown symptom code is refused (ValueError): the check-in form has validated both already.
    """
    found: list[tuple[int, str]] = []
    for name, bands in ruleset.bands.items():
        raw = readings.get(name)
        if raw is None or raw == "":
            continue
        measure = MEASURES[name]
        value = check_measure(measure, round_half_up(parse_number(raw), measure.decimals))
        for index, band in enumerate(bands):
            if band.low <= value <= band.high and band.level != "none":
                found.append((RANK[band.level], _band_reason(name, value, band, index == 0, index == len(bands) - 1)))
    levels = {code: level for level, codes in ruleset.symptoms.items() for code in codes}
    for code in symptoms:
        if code not in SYMPTOMS:
            raise ValueError(_("“{code}” is not a known symptom").format(code=code))
        if code in levels:
            found.append((RANK[levels[code]], _("{symptom} is {level}").format(
                symptom=_(SYMPTOMS[code]), level=_(LEVEL_LABELS[levels[code]]))))
    found.sort(key=lambda item: -item[0])  # stable: table order within a level
    top = max((rank for rank, _reason in found), default=0)
    level: Level = "red" if top == 2 else "amber" if top == 1 else "none"
    return Alert(level, tuple(reason for _rank, reason in found), ruleset.ref)
