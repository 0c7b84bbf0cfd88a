"""Vaccine schedules as data, and what a person's doses make of one: which dose is complete, due,
overdue, too early or not due yet, and when.

A schedule (`programme_data/schedules/*.toml`, and a site's own in `schedules/` in its data
directory) is series of doses, one series per antigen. Each dose has a minimum age, a recommended
age or a recommended interval from the previous dose, a minimum interval from the previous dose
and, optionally, from the first. `derive` is a pure function of the schedule, the birth date, the
doses held and today, so the screen, the command line, the due list and the tests all read one rule.

How it counts, and why:
- A dose counts when it was given here, or given elsewhere (`historical`, not a primary source).
  Not-given and entered-in-error records leave the calculation, as does a not-given record later
  superseded (Tamanu keeps it as `historical` with primary_source true: history, not a dose).
- Doses are numbered by their place in the series, in date order, never by the number typed:
  a free-typed dose sequence is how other systems got wrong states. A typed number that
  disagrees is kept and flagged.
- Every date follows the dose actually given, never the plan: a late dose 2 moves dose 3.
- An interrupted series continues; it never restarts. The one restart is a series a laboratory
  test says did not work (anti-HBs below 10 after hepatitis B): `restarts` names the day it
  restarts from, and the doses from that day on are its round 2.
- A dose given before its minimum age or interval still counts (it was given, for a reason the
  record keeps), and stays flagged.
"""

from __future__ import annotations

import calendar
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache, lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError, model_validator

from fieldkit.errors import FieldkitError
from fieldkit.i18n import N_, _
from fieldkit.records import site
from fieldkit.records.alerts import first_problem
from fieldkit.records.models import Record
from fieldkit.records.vaccines import vaccines

SHIPPED_DIR = Path(__file__).parent / "programme_data" / "schedules"
SITE_FOLDER = "schedules"
SPAN = r"^\d{1,4}[dwmy]$"  # days, weeks, calendar months, years
Span = Annotated[str, Field(pattern=SPAN)]

# A dose's state. The words are the catalogue's, translated where shown.
COMPLETE = N_("complete")
DUE = N_("due")
OVERDUE = N_("overdue")
TOO_EARLY = N_("too early")  # not yet eligible: below the minimum age or interval today
NOT_DUE_YET = N_("not due yet")  # eligible, but before its recommended date
TOO_LATE = N_("too late")  # past the window of a dose that is given only young (a birth dose)
STATES = (COMPLETE, DUE, OVERDUE, TOO_EARLY, NOT_DUE_YET, TOO_LATE)
# What a dose given is flagged with, for good: given early, or beyond the schedule's doses.
BELOW_INTERVAL = N_("below minimum interval")
BELOW_AGE = N_("below minimum age")
EXTRA = N_("beyond the schedule")
SHIPPED_TEXT = (N_("Hepatitis B, health staff"), N_("Hepatitis B"), N_("Childhood immunization (WHO EPI)"),
                N_("BCG"), N_("OPV birth dose"), N_("OPV"), N_("Pentavalent (DTP-HepB-Hib)"), N_("PCV"),
                N_("Rotavirus"), N_("IPV"), N_("Measles-rubella"), N_("anti-HBs"),
                N_("anti-HBs below 10 m[IU]/mL after a hepatitis B series: give a second series, then test again"),
                N_("anti-HBs below 10 m[IU]/mL after a second hepatitis B series: test HBsAg and anti-HBc"))


@cache
def _span(text: str) -> tuple[int, str]:
    return int(text[:-1]), text[-1]


@lru_cache(maxsize=1 << 16)  # a due list asks the same few spans of the same days thousands of times
def after(day: date, span: str) -> date:
    """`day` plus a span: days and weeks exactly; months and years by the calendar, the 31st
    becoming the month's last day."""
    return _shift(day, *_span(span))


def before(day: date, span: str) -> date:
    """`day` less a span, as `after` counts it."""
    amount, unit = _span(span)
    return _shift(day, -amount, unit)


def _shift(day: date, amount: int, unit: str) -> date:
    if unit in "dw":
        return day + timedelta(days=amount * (7 if unit == "w" else 1))
    months = day.month - 1 + amount * (12 if unit == "y" else 1)
    year, month = day.year + months // 12, months % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


class DoseRule(Record):
    min_age: Span = "0d"
    recommended_age: Span | None = None
    max_age: Span | None = None  # past it, a dose not given is too late (a birth dose)
    min_interval: Span | None = None  # from the previous dose, as given
    recommended_interval: Span | None = None  # from the previous dose, as given
    min_interval_from_first: Span | None = None


class Test(Record):
    """The laboratory test that says whether a series worked, read after its last dose."""

    name: str = Field(min_length=1)
    loinc: str = Field(pattern=r"^\d{1,7}-\d$")
    unit: str = Field(min_length=1)  # UCUM; a result in another unit is not read
    protective: float  # at or above: immune
    earliest: Span  # after the last dose, a result is read from then
    recommended: Span
    latest: Span  # a test still not done then is overdue
    low_first: str = Field(min_length=1)  # the follow-up raised when the first series did not work
    low_again: str = Field(min_length=1)  # ... and when the second did not either


class Series(Record):
    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    name: str = Field(min_length=1)
    vaccines: tuple[str, ...] = Field(min_length=1)
    doses: tuple[DoseRule, ...] = Field(min_length=1)
    test: Test | None = None

    @model_validator(mode="after")
    def _first_has_no_interval(self) -> "Series":
        first = self.doses[0]
        if first.min_interval or first.recommended_interval or first.min_interval_from_first:
            raise ValueError(f"series {self.id}: dose 1 has no previous dose to count an interval from")
        unknown = sorted(set(self.vaccines) - set(vaccines()))
        if unknown:
            raise ValueError(f"series {self.id}: no vaccine “{unknown[0]}” in the vaccine table")
        return self


class Schedule(Record):
    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    version: int = Field(ge=1)
    name: str = Field(min_length=1)
    ages: tuple[Span, Span] | None = None  # for whom by age (from, to); none: for a list of people
    overdue_after: Span = "4w"  # a dose is overdue this long after its recommended date
    series: tuple[Series, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> "Schedule":
        ids = [s.id for s in self.series]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"series “{twice[0]}” is listed twice")
        return self

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"

    @property
    def vaccines(self) -> frozenset[str]:
        return frozenset(code for series in self.series for code in series.vaccines)

    def for_age(self, birth: date | None, today: date) -> bool:
        """Whether someone born on `birth` is of the ages this schedule is for today."""
        if self.ages is None or birth is None:
            return False
        return after(birth, self.ages[0]) <= today <= after(birth, self.ages[1])


def occurred_day(occurred: str, today: date) -> date:
    """The day a record's date (ISO, or a partial "2019" or "2019-05" for a dose given elsewhere)
    counts as: a partial date as the last day it can mean, so the next dose's minimum interval is
    never counted from a day before the real one; never later than today."""
    if len(occurred) == 4:
        return min(date(int(occurred), 12, 31), today)
    if len(occurred) == 7:
        year, month = int(occurred[:4]), int(occurred[5:])
        return min(date(year, month, calendar.monthrange(year, month)[1]), today)
    return date.fromisoformat(occurred[:10])


@dataclass(frozen=True)
class HeldDose:
    """One immunization record as the derivation reads it."""

    id: str
    vaccine: str
    on: date
    status: str = "given"  # given | not-given | historical | entered-in-error
    primary_source: bool = True
    number: int | None = None  # as recorded; the derivation numbers doses itself

    @property
    def counts(self) -> bool:
        return counts(self.status, self.primary_source)

    @classmethod
    def from_row(cls, row: Mapping[str, Any], today: date) -> "HeldDose":
        """From an `immunizations` row (id, vaccine, occurred, status, primary_source, dose_number)."""
        return cls(row["id"], row["vaccine"], occurred_day(row["occurred"], today), row["status"],
                   bool(row["primary_source"]), row["dose_number"])


def counts(status: str, primary_source: bool) -> bool:
    """Whether a record is a dose: given here, or given elsewhere. A not-given record later
    superseded is `historical` too, but recorded here (a primary source): history, not a dose."""
    return status == "given" or (status == "historical" and not primary_source)


@dataclass(frozen=True)
class DoseState:
    series: str
    series_name: str
    round: int  # 2 for a series restarted after a test said the first did not work
    number: int
    state: str
    earliest: date | None  # eligible from: minimum age and intervals, from the doses as given
    due: date | None  # recommended; None: any time from `earliest` (a catch-up dose 1)
    given: date | None = None
    dose_id: str | None = None
    flags: tuple[str, ...] = ()
    days_overdue: int = 0
    recorded_number: int | None = None  # the number typed when it disagrees with the dose's place


def read_schedule(path: Path) -> Schedule:
    """One schedule file, validated; a bad one is one line naming the file and the problem."""
    try:
        return Schedule.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise FieldkitError(f"{path.name}: {exc}") from None
    except ValidationError as exc:
        raise FieldkitError(f"{path.name}: {first_problem(exc)}") from None


@site.table
def schedules() -> dict[str, Schedule]:
    """The shipped schedules and the site's (`schedules/*.toml` in its data directory). A site's
    schedule with a shipped id replaces it only with a higher version: a record of a dose names
    the version it was checked against, and that must mean one table."""
    own = site.directory()
    folder = own / SITE_FOLDER if own else None
    found: dict[str, Schedule] = {}
    for path in [*sorted(SHIPPED_DIR.glob("*.toml")), *(sorted(folder.glob("*.toml")) if folder and folder.is_dir() else [])]:
        read = read_schedule(path)
        held = found.get(read.id)
        if held and read.version == held.version and read != held:
            raise FieldkitError(f"{path.name}: schedule “{read.id}” version {read.version} differs from another "
                                f"of the same version; give the changed one a higher version")
        if held is None or read.version > held.version:
            found[read.id] = read
    return found


def schedule(schedule_id: str) -> Schedule:
    found = schedules()
    if schedule_id not in found:
        raise FieldkitError(_("no schedule “{id}” (known: {known})").format(id=schedule_id, known=", ".join(found)))
    return found[schedule_id]


def series_of(vaccine: str) -> list[tuple[Schedule, Series]]:
    """Every schedule's series that a dose of this vaccine counts in."""
    return [(s, series) for s in schedules().values() for series in s.series if vaccine in series.vaccines]


def _assign(schedule: Schedule, birth: date, doses: list[HeldDose],
            restarts: Mapping[str, date]) -> dict[str, list[HeldDose]]:
    """Each counted dose (in date order) to the first series of its vaccine that has room for it
    in its round and whose next dose's age window takes it: a bOPV at birth is the birth dose, a
    bOPV at six weeks is OPV 1. A dose no series has room for goes to the last (the main one), as an extra."""
    held: dict[str, list[HeldDose]] = {series.id: [] for series in schedule.series}
    for dose in doses:
        fitting = [series for series in schedule.series if dose.vaccine in series.vaccines]
        if not fitting:
            continue
        for series in fitting:
            restart = restarts.get(series.id)
            in_round = [d for d in held[series.id] if restart is None or (d.on >= restart) == (dose.on >= restart)]
            if len(in_round) < len(series.doses):
                limit = series.doses[len(in_round)].max_age
                if limit is None or dose.on <= after(birth, limit):
                    held[series.id].append(dose)
                    break
        else:
            held[fitting[-1].id].append(dose)
    return held


def _pending(schedule: Schedule, rule: DoseRule, birth: date, earliest: date, due: date | None,
             today: date) -> tuple[str, int]:
    if rule.max_age and today > after(birth, rule.max_age):
        return TOO_LATE, 0
    if today < earliest:
        return TOO_EARLY, 0
    if due is not None and today < due:
        return NOT_DUE_YET, 0
    if due is not None and today > after(due, schedule.overdue_after):
        return OVERDUE, (today - due).days
    return DUE, 0


def _round(schedule: Schedule, series: Series, birth: date, held: list[HeldDose], today: date, number: int,
           start: date | None) -> list[DoseState]:
    states: list[DoseState] = []
    first: date | None = None
    previous: date | None = None
    for index, rule in enumerate(series.doses):
        # Each bound once: the due list runs this for thousands of people.
        of_age = after(birth, rule.min_age)
        intervals = [after(previous, rule.min_interval)] if previous and rule.min_interval else []
        if first and rule.min_interval_from_first:
            intervals.append(after(first, rule.min_interval_from_first))
        spaced = max(intervals) if intervals else None
        earliest = max(of_age, spaced or of_age, start or of_age)
        recommended = [after(birth, rule.recommended_age)] if rule.recommended_age else []
        if previous and rule.recommended_interval:
            recommended.append(after(previous, rule.recommended_interval))
        if start and index == 0:
            recommended.append(start)  # a series restarted after a failed test is due at once
        due = max(earliest, *recommended) if recommended else None
        if index < len(held):
            dose = held[index]
            flags = (*((BELOW_AGE,) if dose.on < of_age else ()),
                     *((BELOW_INTERVAL,) if spaced and dose.on < spaced else ()))
            states.append(DoseState(series.id, series.name, number, index + 1, COMPLETE, earliest, due, dose.on, dose.id,
                                    flags, 0, dose.number if dose.number not in (None, index + 1) else None))
            previous, first = dose.on, first or dose.on
            continue
        state, late = _pending(schedule, rule, birth, earliest, due, today)
        states.append(DoseState(series.id, series.name, number, index + 1, state, earliest, due, days_overdue=late))
        # Later doses count from this one's date as it can still be given: not before today.
        previous = max(due or earliest, today)
        first = first or previous
    for extra, dose in enumerate(held[len(series.doses):], start=len(series.doses) + 1):
        states.append(DoseState(series.id, series.name, number, extra, COMPLETE, None, None, given=dose.on,
                                dose_id=dose.id, flags=(EXTRA,)))
    return states


def derive(schedule: Schedule, birth_date: date, doses: Iterable[HeldDose], today: date, *,
           restarts: Mapping[str, date] | None = None) -> list[DoseState]:
    """Every dose of every series of the schedule, in the schedule's order: complete (with the
    flags a dose given early keeps), or due, overdue, too early, not due yet, too late, with its
    dates. The same doses give the same states whatever order they come in."""
    restarts = restarts or {}
    counted = sorted((d for d in doses if d.counts), key=lambda d: (d.on, d.id))
    assigned = _assign(schedule, birth_date, counted, restarts)
    states: list[DoseState] = []
    for series in schedule.series:
        held = assigned[series.id]
        restart = restarts.get(series.id)
        if restart is None:
            states += _round(schedule, series, birth_date, held, today, 1, None)
            continue
        states += _round(schedule, series, birth_date, [d for d in held if d.on < restart], today, 1, None)
        states += _round(schedule, series, birth_date, [d for d in held if d.on >= restart], today, 2, restart)
    return states


def next_doses(states: Iterable[DoseState]) -> list[DoseState]:
    """The first dose not given of each series' latest round: what a nurse gives next."""
    by_series: dict[str, list[DoseState]] = {}
    for state in states:
        by_series.setdefault(state.series, []).append(state)
    found = []
    for items in by_series.values():
        latest = max(state.round for state in items)
        pending = [state for state in items if state.round == latest and state.state != COMPLETE]
        if pending:
            found.append(pending[0])
    return found
