"""Whether a vaccine series worked, from its doses and the laboratory test its schedule names
(anti-HBs after hepatitis B), and the follow-up each answer asks for.

Read after the last dose of a series (from the test's `earliest`, 4 weeks for anti-HBs), the first
result at or above the protective level (10 m[IU]/mL) means immune; the first below means the
series did not work: a second series is due from the day that sample was taken (the schedule's one
restart, `schedules.derive(restarts=…)`), and a follow-up says so. Below again after the second
series: a follow-up to test HBsAg and anti-HBc; no third series. A result in another unit, not a
number, corrected away, entered in error or taken too soon is not read, and the evidence says why.

`assess` is a pure function, which the due list runs for thousands of people at once;
`immunity_status` and `raise_tasks` read one person's record.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from fieldkit.errors import FieldkitError
from fieldkit.i18n import N_, _, day
from fieldkit.permissions import Write, require_write
from fieldkit.records.ids import new_id
from fieldkit.records.lab_codes import COUNTED
from fieldkit.records.schedules import HeldDose, Schedule, Series, Test, after, schedule, schedules
from fieldkit.store.db import Change, Transaction
from fieldkit.store.keystore import User
from fieldkit.text import ascii_digits

SCHEDULE = "hepb-staff"  # the schedule whose test `immunity_status` reads unless told another
NOT_VACCINATED = N_("not vaccinated")
IN_PROGRESS = N_("series in progress")
TEST_DUE = N_("test due")
IMMUNE = N_("immune")
REPEAT_SERIES = N_("repeat series")
NON_RESPONDER = N_("non-responder")


@dataclass(frozen=True)
class Result:
    id: str
    collected: date
    value: str  # as the laboratory wrote it: "12", "<2", ">1000"
    unit: str


Note = tuple[str, tuple[tuple[str, Any], ...]]  # a catalogue message and its values, said when read


def _note(message: str, **values: Any) -> Note:
    return message, tuple(values.items())


def say(note: Note) -> str:
    """A note in the reader's language, its days as the locale writes them."""
    message, values = note
    return _(message).format(**{name: day(value) if isinstance(value, date) else value for name, value in values})


@dataclass(frozen=True)
class ImmunityStatus:
    state: str
    notes: tuple[Note, ...]  # the doses and results read, and those not read with why
    series: str = ""  # the schedule's series the test belongs to
    round: int = 1  # 2 once a second series is due
    restart: date | None = None  # the day the second series counts from
    test_from: date | None = None  # when a test is due: read from, recommended, overdue after
    test_due: date | None = None
    test_latest: date | None = None
    task: str | None = None  # the follow-up this state asks for (the schedule's words, untranslated)
    result_id: str | None = None  # the result the state rests on

    @property
    def evidence(self) -> list[str]:
        # Said on reading, not on assessing: the due list assesses thousands and shows none of it.
        return [say(note) for note in self.notes]


def _level(result: Result, test: Test) -> tuple[bool | None, Note | None]:
    """Whether a result is protective (True), low (False) or not read (None, with why)."""
    if result.unit != test.unit:
        return None, _note(N_("{test} {value} {unit} on {day}: not read, only {expected} is"), test=test.name,
                           value=result.value, unit=result.unit, day=result.collected, expected=test.unit)
    text = ascii_digits(result.value.strip()).replace(",", ".")
    comparator = text[0] if text[:1] in ("<", ">") else ""
    try:
        value = Decimal(text[len(comparator):].lstrip("="))
    except InvalidOperation:
        return None, _note(N_("{test} “{value}” on {day}: not a number, not read"), test=test.name,
                           value=result.value, day=result.collected)
    level = Decimal(str(test.protective))
    if (comparator == "<" and value > level) or (comparator == ">" and value < level):
        return None, _note(N_("{test} {value} on {day}: does not say which side of {level} it is, not read"),
                           test=test.name, value=result.value, day=result.collected, level=f"{test.protective:g}")
    return (value >= level if comparator != "<" else False), None


def assess(series: Series, doses: Iterable[HeldDose], results: Iterable[Result]) -> ImmunityStatus:
    """What a series' doses and test results say, and why (see the module's docstring)."""
    test = series.test
    counted = sorted((d for d in doses if d.counts and d.vaccine in series.vaccines), key=lambda d: (d.on, d.id))
    if test is None or not counted:
        return ImmunityStatus(NOT_VACCINATED, (), series.id)
    needed = len(series.doses)
    notes: list[Note] = []
    read: list[tuple[Result, bool]] = []
    for result in sorted(results, key=lambda r: (r.collected, r.id)):
        level, unread = _level(result, test)
        if level is None and unread:
            notes.append(unread)
        elif level is not None:
            read.append((result, level))
    restart: date | None = None
    for round_number in (1, 2):
        held = [d for d in counted if restart is None or d.on >= restart]
        last = held[needed - 1].on if len(held) >= needed else None
        readable_from = after(last, test.earliest) if last else None
        for result, _protective in read:
            if last is None or result.collected <= last:
                notes.append(_note(N_("{test} on {day}: taken before series {round} was complete, not read"),
                                   test=test.name, day=result.collected, round=round_number))
            elif readable_from and result.collected < readable_from:
                notes.append(_note(N_("{test} on {day}: too soon after the last dose, read from {first}"),
                                   test=test.name, day=result.collected, first=readable_from))
        if last is None or readable_from is None:
            notes.append(_note(N_("series {round}: {held} of {needed} doses"), round=round_number, held=len(held),
                               needed=needed))
            return ImmunityStatus(REPEAT_SERIES if restart else IN_PROGRESS, tuple(notes), series.id, round_number,
                                  restart, task=test.low_first if restart else None)
        notes.append(_note(N_("series {round} complete: dose {needed} on {day}"), round=round_number, needed=needed,
                           day=last))
        found = next(((r, level) for r, level in read if r.collected >= readable_from), None)
        if found is None:
            return ImmunityStatus(TEST_DUE, tuple(notes), series.id, round_number, restart,
                                  test_from=readable_from, test_due=after(last, test.recommended),
                                  test_latest=after(last, test.latest))
        result, protective = found
        notes.append(_note(N_("{test} {value} {unit} on {day}, {weeks} weeks after the last dose"), test=test.name,
                           value=result.value, unit=result.unit, day=result.collected,
                           weeks=(result.collected - last).days // 7))
        if protective:
            return ImmunityStatus(IMMUNE, tuple(notes), series.id, round_number, restart, result_id=result.id)
        if round_number == 2:
            return ImmunityStatus(NON_RESPONDER, tuple(notes), series.id, 2, restart, task=test.low_again,
                                  result_id=result.id)
        restart = result.collected
        read = [(r, level) for r, level in read if r.collected > restart]
    raise AssertionError("unreachable: the second round returns")


def _test_series(chosen: Schedule) -> Series:
    tested = [series for series in chosen.series if series.test is not None]
    if not tested:
        raise FieldkitError(_("schedule {id} names no test of immunity").format(id=chosen.id))
    return tested[0]


def held_doses(db: Any, patient_id: str, today: date) -> list[HeldDose]:
    rows = db.execute("SELECT id, vaccine, occurred, status, primary_source, dose_number FROM immunizations "
                      "WHERE patient_id = ?", (patient_id,))
    return [HeldDose.from_row(dict(zip(("id", "vaccine", "occurred", "status", "primary_source", "dose_number"), row)),
                              today) for row in rows]


# The results a test reads: final or corrected (lab_codes.COUNTED), not voided, with a value and a day.
RESULTS_SQL = ("SELECT id, patient_id, collected, coalesce(comparator, '') || value, unit FROM lab_results WHERE loinc = ? AND voided IS NOT 1 "
               f"AND status IN ({', '.join(repr(status) for status in sorted(COUNTED))}) "
               "AND collected IS NOT NULL AND value IS NOT NULL")


def result_of(row: Any) -> Result:
    return Result(row[0], date.fromisoformat(str(row[2])[:10]), str(row[3]), str(row[4] or ""))


def results_of(db: Any, patient_id: str, loinc: str) -> list[Result]:
    return [result_of(row) for row in db.execute(RESULTS_SQL + " AND patient_id = ?", (loinc, patient_id))]


def immunity_status(db: Any, patient_id: str, *, schedule_id: str = SCHEDULE, today: date | None = None) -> ImmunityStatus:
    """One person's standing for the schedule's tested series (hepatitis B unless told another)."""
    today = today or date.today()
    series = _test_series(schedule(schedule_id))
    assert series.test is not None
    return assess(series, held_doses(db, patient_id, today), results_of(db, patient_id, series.test.loinc))


def restarts(status: ImmunityStatus) -> dict[str, date]:
    """What `schedules.derive` needs to know of a second series."""
    return {status.series: status.restart} if status.restart else {}


def raise_tasks(tx: Transaction, user: User, patient_id: str, *, today: date | None = None) -> list[str]:
    """The follow-up the person's immunity asks for, unless one with the same reason is open or
    done already (a done one was acted on): the ids raised, none when called again. The lab import
    calls it after committing results."""
    status = immunity_status(tx, patient_id, today=today)
    if status.task is None:
        return []
    held = tx.execute("SELECT 1 FROM followups WHERE patient_id = ? AND reason = ? AND voided IS NOT 1 "
                      "AND status IN ('open', 'done')", (patient_id, status.task)).fetchone()
    if held:
        return []
    require_write(user.role, Write("followup", "create"))
    task_id = new_id()
    tx.append([Change("followup", task_id, "create", {"fields": {
        "patient_id": patient_id, "due": (today or date.today()).isoformat(), "reason": status.task,
        "status": "open"}})], user=user.id)
    return [task_id]


def after_results(tx: Transaction, user: User, results: Iterable[tuple[str, str]], *, today: date | None = None) -> list[str]:
    """The follow-ups that new or corrected results, as (patient id, LOINC), ask for: an anti-HBs
    below the protective level after a series is a second series or a test to order, however the
    result came in (typed, imported, matched from quarantine)."""
    tested = {series.test.loinc for chosen in schedules().values() for series in chosen.series if series.test}
    raised: list[str] = []
    for patient_id in dict.fromkeys(pid for pid, loinc in results if loinc in tested):
        raised += raise_tasks(tx, user, patient_id, today=today)
    return raised
