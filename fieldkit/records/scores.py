"""Early-warning scores from an encounter's vital signs: NEWS2 and qSOFA, with their breakdown.

Each score is a versioned table of cut points (reference/ecosystem.md 3.1 and 3.2) and the
version is saved with every result, so a later change of rules never rewrites an old score.
Readings are first rounded half-up to the precision the chart is written in (whole numbers;
temperature to 0.1 °C), so 90.5/min scores as 91, never between two bands.

A score with readings missing is still computed from what is there and says what is missing.
Missing readings can only add points, so a partial total is a floor: its band is reported when
the floor alone reaches it, and otherwise as "incomplete", never as a reassuring "low".

NEWS2 is validated for adults (16 and over) who are not pregnant; qSOFA is shown beside it, not
instead of it (Surviving Sepsis Campaign 2021). Both are decision support, not a decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fieldkit.i18n import N_, _
from fieldkit.records.models import MEASURES, Vitals, round_half_up

INF = float("inf")
# (highest value of the band, points), ascending: a reading takes the first band it fits.
Bands = tuple[tuple[float, int], ...]

NEWS2_VERSION = "NEWS2 (RCP 2017, chart 1)"
NEWS2_MIN_AGE = 16  # children's normal ranges differ: their NEWS2 bands would cry wolf
NOT_FOR_CHILDREN = (N_("under 16"), N_("NEWS2 is validated from 16 years: use a paediatric early-warning score"))
NEWS2: dict[str, Bands] = {
    "resp_rate": ((8, 3), (11, 1), (20, 0), (24, 2), (INF, 3)),
    "spo2": ((91, 3), (93, 2), (95, 1), (INF, 0)),  # scale 1
    "systolic_bp": ((90, 3), (100, 2), (110, 1), (219, 0), (INF, 3)),
    "pulse": ((40, 3), (50, 1), (90, 0), (110, 1), (130, 2), (INF, 3)),
    "temperature_c": ((35.0, 3), (36.0, 1), (38.0, 0), (39.0, 1), (INF, 2)),
}
# Scale 2, for a prescribed target of 88-92% (hypercapnic respiratory failure): above 92% scores
# only when the patient is on oxygen.
SPO2_SCALE2_ON_AIR: Bands = ((83, 3), (85, 2), (87, 1), (INF, 0))
SPO2_SCALE2_ON_OXYGEN: Bands = ((83, 3), (85, 2), (87, 1), (92, 0), (94, 1), (96, 2), (INF, 3))
OXYGEN_POINTS = 2
NEW_CONFUSION_OR_WORSE = 3  # any of C, V, P, U
# (lowest total, band, response), highest first; a 3 in any one parameter is at least low-medium.
NEWS2_BANDS = ((7, N_("high"), N_("emergency response")), (5, N_("medium"), N_("urgent response")),
               (0, N_("low"), N_("ward-based response")))
SINGLE_THREE = (N_("low-medium"), N_("urgent ward-based response"))

QSOFA_VERSION = "qSOFA (Sepsis-3, Singer et al. JAMA 2016)"
QSOFA_RR = 22  # /min or more
QSOFA_SBP = 100  # mmHg or less
QSOFA_HIGH = 2
# Each part of a score named as the chart names it: the measures' own labels, and three more.
PART_LABELS = {**{name: measure.label for name, measure in MEASURES.items()},
               "oxygen": N_("Oxygen"), "avpu": N_("Consciousness"), "mentation": N_("Altered mentation")}


def part_label(name: str) -> str:
    """A score's part (a reading, oxygen, consciousness) in the reader's language."""
    return _(PART_LABELS.get(name, name))


@dataclass(frozen=True)
class Score:
    name: str
    total: int
    band: str  # a word, never only a colour
    response: str
    parts: dict[str, int]
    version: str
    missing: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def summary(self) -> str:
        """In the reader's language; the band and response are stored in English (N_ marks them)."""
        text = f"{self.name} {self.total} {_(self.band)}: {_(self.response)}"
        return text if self.complete else text + " " + _("(missing {names})").format(
            names=", ".join(part_label(name) for name in self.missing))


def points(bands: Bands, value: float) -> int:
    return next(score for top, score in bands if value <= top)


def news2(vitals: Vitals | Mapping, *, hypercapnic: bool = False, age_years: float | None = None) -> Score:
    """NEWS2 with its breakdown; `age_years` under 16 keeps the points but gives no risk band."""
    vitals = vitals if isinstance(vitals, Vitals) else Vitals.model_validate(vitals)
    parts: dict[str, int] = {}
    missing: list[str] = []
    for name, bands in NEWS2.items():
        reading = getattr(vitals, name)
        if reading is None:
            missing.append(name)
            continue
        if name == "spo2" and hypercapnic:
            bands = SPO2_SCALE2_ON_OXYGEN if vitals.on_oxygen else SPO2_SCALE2_ON_AIR
        parts[name] = points(bands, round_half_up(reading, 1 if name == "temperature_c" else 0))
    parts["oxygen"] = OXYGEN_POINTS if vitals.on_oxygen else 0
    if vitals.avpu is None:
        missing.append("avpu")
    else:
        parts["avpu"] = 0 if vitals.avpu == "A" else NEW_CONFUSION_OR_WORSE
    total = sum(parts.values())
    band, response = next((band, response) for floor, band, response in NEWS2_BANDS if total >= floor)
    if band == "low" and 3 in parts.values():
        band, response = SINGLE_THREE
    if missing and band == "low":
        band, response = N_("incomplete"), N_("record the missing readings")
    if age_years is not None and age_years < NEWS2_MIN_AGE:
        band, response = NOT_FOR_CHILDREN
    version = NEWS2_VERSION + (", SpO2 scale 2" if hypercapnic else "")
    return Score("NEWS2", total, band, response, parts, version, tuple(missing))


def qsofa(vitals: Vitals | Mapping) -> Score:
    vitals = vitals if isinstance(vitals, Vitals) else Vitals.model_validate(vitals)
    criteria = {
        "resp_rate": None if vitals.resp_rate is None else round_half_up(vitals.resp_rate) >= QSOFA_RR,
        "systolic_bp": None if vitals.systolic_bp is None else round_half_up(vitals.systolic_bp) <= QSOFA_SBP,
        "mentation": None if vitals.avpu is None else vitals.avpu != "A",
    }
    parts = {name: int(met) for name, met in criteria.items() if met is not None}
    missing = tuple(name for name, met in criteria.items() if met is None)
    total = sum(parts.values())
    if total >= QSOFA_HIGH:
        band, response = N_("high"), N_("high risk of poor outcome if infected: assess for sepsis")
    elif total + len(missing) < QSOFA_HIGH:
        band, response = N_("low"), N_("not met; keep reassessing")
    else:
        band, response = N_("incomplete"), N_("record the missing readings")
    return Score("qSOFA", total, band, response, parts, QSOFA_VERSION, missing)
