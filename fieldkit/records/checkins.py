"""Follow-up check-ins: one check-in as validated data, and where a patient stands on a schedule.

The schedule is never stored as one row per day (CHT caps its task windows because a row a day
floods devices, reference/clinical.md B): it is computed when asked, from the plan, the days
that have a check-in and the hospital stays. The rules, as a clinic would say them:

- Check-ins are due every `interval_days` from `start` (the first due day) for `max_days`.
- A check-in counts for the due day whose window it falls in: from the due day for
  `window_days` days (1: that day only). Windows never overlap, so no check-in counts twice.
- A due day whose window touches a hospital stay is paused: neither due nor missed. A stay
  runs from the admission day up to, not including, the day home (None: still in hospital).
  Stays do not lengthen the plan: monitoring ends on the same day.
- A due day whose window has passed with no check-in is missed; otherwise it is pending.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import Field, field_validator

from fieldkit.i18n import _
from fieldkit.records.alerts import RANK, SYMPTOMS
from fieldkit.records.dates import parse_day
from fieldkit.records.models import MEASURES, Record, check_measure
from fieldkit.text import clean_text

DayStatus = Literal["done", "paused", "missed", "pending"]
Stay = tuple[date, date | None]
READINGS = ("spo2", "resp_rate", "pulse", "temperature_c")


class CheckIn(Record):
    enrolment_id: str = Field(min_length=1)
    day: date  # the day the check-in belongs to, as recorded (not when it was typed in)
    spo2: float | None = None
    resp_rate: float | None = None
    pulse: float | None = None
    temperature_c: float | None = None
    symptoms: list[str] = Field(default_factory=list, max_length=len(SYMPTOMS))
    note: str = Field("", max_length=2000)
    by_phone: bool = False

    @field_validator("enrolment_id", "note", mode="before")
    @classmethod
    def _clean(cls, value: Any) -> Any:
        return clean_text(value) if isinstance(value, str) else value

    @field_validator("day", mode="before")
    @classmethod
    def _day(cls, value: Any) -> Any:
        return parse_day(value) if isinstance(value, str) else value

    @field_validator(*READINGS, mode="before")
    @classmethod
    def _possible(cls, value: Any, info) -> float | None:
        """Blank is not measured; a typed reading is bounded by the vital signs' own ranges."""
        if isinstance(value, str):
            value = clean_text(value)
        return None if value is None or value == "" else check_measure(MEASURES[info.field_name], value)

    @field_validator("symptoms", mode="before")
    @classmethod
    def _symptoms(cls, value: Any) -> Any:
        if not isinstance(value, (list, tuple)):
            return value
        codes = [clean_text(str(code)) for code in value]
        for code in codes:
            if code not in SYMPTOMS:
                raise ValueError(_("“{code}” is not a known symptom").format(code=code))
        return list(dict.fromkeys(codes))

    def readings(self) -> dict[str, float | None]:
        """The readings an alert rule set classifies (`alerts.classify`)."""
        return {name: getattr(self, name) for name in READINGS}


@dataclass(frozen=True)
class Plan:
    start: date  # the first due day
    interval_days: int
    max_days: int
    window_days: int = 1

    def __post_init__(self) -> None:
        if self.interval_days < 1 or self.max_days < 1 or not 1 <= self.window_days <= self.interval_days:
            raise ValueError(f"a plan needs interval and days of at least 1 and a window within the interval: {self}")


@dataclass(frozen=True)
class Standing:
    next_due: date | None  # the earliest pending due day (it may be overdue but still in its window)
    days_overdue: int
    missed: tuple[date, ...]
    misses_in_a_row: int  # missed due days at the end of the passed windows, stays skipped over
    expected: int
    done: int
    paused: int
    pending: int
    finished: bool  # every window has passed: ready to close


def due_days(plan: Plan) -> list[date]:
    """Every due day of the plan: 14 for a 14-day daily plan, 7 for every other day."""
    return [plan.start + timedelta(days=offset) for offset in range(0, plan.max_days, plan.interval_days)]


def _in_stay(day: date, stays: Collection[Stay]) -> bool:
    return any(admitted <= day and (home is None or day < home) for admitted, home in stays)


def statuses(plan: Plan, done_days: Collection[date], today: date, paused: Collection[Stay] = ()) -> list[tuple[date, DayStatus]]:
    """Each due day with its status; a check-in counts first, then a hospital stay."""
    done_set = set(done_days)
    later = [timedelta(days=offset) for offset in range(1, plan.window_days)]  # the window past its first day
    found: list[tuple[date, DayStatus]] = []
    for due in due_days(plan):
        status: DayStatus
        if due in done_set or any(due + step in done_set for step in later):
            status = "done"
        elif paused and any(_in_stay(day, paused) for day in (due, *(due + step for step in later))):
            status = "paused"
        elif due + timedelta(days=plan.window_days - 1) < today:
            status = "missed"
        else:
            status = "pending"
        found.append((due, status))
    return found


def standing(plan: Plan, done_days: Collection[date], today: date, paused: Collection[Stay] = ()) -> Standing:
    """Where an enrolment stands on `today`: the next check-in due, the misses, the counts."""
    found = statuses(plan, done_days, today, paused)
    window = timedelta(days=plan.window_days)
    pending = [due for due, status in found if status == "pending"]
    in_a_row = 0
    for due, status in reversed(found):
        if due + window > today or status == "paused":
            continue  # not yet passed, or in hospital: neither breaks nor lengthens a run
        if status != "missed":
            break
        in_a_row += 1
    next_due = pending[0] if pending else None
    counted = Counter(status for _due, status in found)
    return Standing(
        next_due=next_due,
        days_overdue=max(0, (today - next_due).days) if next_due else 0,
        missed=tuple(due for due, status in found if status == "missed"),
        misses_in_a_row=in_a_row,
        expected=len(found),
        done=counted["done"],
        paused=counted["paused"],
        pending=len(pending),
        finished=found[-1][0] + window <= today,
    )


def priority(alert_level: str, days_overdue: int) -> tuple[int, int]:
    """A work list's sort key: red before amber before none, then the longest overdue first."""
    return (-RANK[alert_level], -days_overdue)
