"""Who is due a dose (or a test of immunity) under a schedule, and a vaccination round's counts.

Built for a directorate's 4,000 staff at once: each list reads the schedule's doses, the test
results and the people in one query each, and derives every person's standing in Python with the
very functions a single record uses (schedules.derive, immunity.assess), so the list and the
record never disagree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from fieldkit.errors import FieldkitError
from fieldkit.i18n import _
from fieldkit.records.immunity import (
    IMMUNE,
    NON_RESPONDER,
    REPEAT_SERIES,
    RESULTS_SQL,
    SCHEDULE,
    TEST_DUE,
    ImmunityStatus,
    Result,
    assess,
    restarts,
    result_of,
    results_of,
)
from fieldkit.records.immunizations import doses_of
from fieldkit.records.models import OLDEST_BIRTH
from fieldkit.records.names import full_name
from fieldkit.records.queries import patient_fields
from fieldkit.records.schedules import (
    DUE,
    OVERDUE,
    HeldDose,
    Schedule,
    before,
    derive,
    next_doses,
    occurred_day,
    schedule,
    schedules,
)

PEOPLE_COLUMNS = ("id", "given_name", "family_name", "other_names", "name_order", "phone", "birth_date")


@dataclass(frozen=True)
class DueRow:
    patient_id: str
    name: str
    phone: str
    series: str
    round: int
    dose: int | None  # None: the series' test of immunity (anti-HBs), not a dose
    state: str  # due | overdue
    due: date | None  # None: any time (a first dose with no recommended age)
    earliest: date | None
    days_overdue: int


def _doses(db: Any, chosen: Schedule, today: date) -> dict[str, list[HeldDose]]:
    codes = sorted(chosen.vaccines)
    held: dict[str, list[HeldDose]] = defaultdict(list)
    for row in db.execute("SELECT id, patient_id, vaccine, occurred, status, primary_source, dose_number "
                          f"FROM immunizations WHERE vaccine IN ({', '.join('?' * len(codes))})", codes):
        held[row[1]].append(HeldDose(row[0], row[2], occurred_day(row[3], today), row[4], bool(row[5]), row[6]))
    return held


def _results(db: Any, chosen: Schedule) -> dict[str, dict[str, list[Result]]]:
    """Each tested series' results, by patient."""
    found: dict[str, dict[str, list[Result]]] = {}
    for series in chosen.series:
        if series.test is not None:
            by_patient: dict[str, list[Result]] = defaultdict(list)
            for row in db.execute(RESULTS_SQL, (series.test.loinc,)):
                by_patient[row[1]].append(result_of(row))
            found[series.id] = by_patient
    return found


def _people(db: Any, chosen: Schedule, today: date, population: Iterable[str] | None,
            holding: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The people a list is about: the population named, else everyone holding a dose of the
    schedule and everyone of its ages. Merged and voided records are left out."""
    wanted = set(population) if population is not None else set(holding)
    sql = f"SELECT {', '.join(PEOPLE_COLUMNS)} FROM patients WHERE merged_into IS NULL AND voided IS NOT 1"
    if population is None and chosen.ages:  # the young enough, and whoever holds a dose
        rows = db.execute(sql + " AND (birth_date >= ? OR id IN (SELECT patient_id FROM immunizations))",
                          (before(today, chosen.ages[1]).isoformat(),))
    else:
        rows = db.execute(sql)
    people = {}
    for row in rows:
        person = dict(zip(PEOPLE_COLUMNS, row))
        birth = date.fromisoformat(person["birth_date"]) if person["birth_date"] else None
        if person["id"] in wanted or (population is None and chosen.for_age(birth, today)):
            person["birth"] = birth
            people[person["id"]] = person
    return people


def _standing(chosen: Schedule, doses: list[HeldDose], results: dict[str, dict[str, list[Result]]],
              patient_id: str) -> dict[str, ImmunityStatus]:
    return {series.id: assess(series, doses, results[series.id].get(patient_id, []))
            for series in chosen.series if series.id in results}


def due_list(db: Any, schedule_id: str, *, today: date, population: Iterable[str] | None = None,
             overdue_only: bool = False) -> list[DueRow]:
    """Everyone due or overdue a dose of the schedule (the next of each series) or its test,
    most overdue first, then by due date, then by name."""
    chosen = schedule(schedule_id)
    doses = _doses(db, chosen, today)
    results = _results(db, chosen)
    rows: list[DueRow] = []
    for pid, person in _people(db, chosen, today, population, doses).items():
        held = doses.get(pid, [])
        name, phone = full_name(person), person["phone"] or ""
        standing = _standing(chosen, held, results, pid)
        restarted = {key: value for status in standing.values() for key, value in restarts(status).items()}
        for state in next_doses(derive(chosen, person["birth"] or OLDEST_BIRTH, held, today, restarts=restarted)):
            if state.state in (DUE, OVERDUE):
                rows.append(DueRow(pid, name, phone, state.series, state.round, state.number, state.state, state.due,
                                   state.earliest, state.days_overdue))
        for status in standing.values():
            if status.state == TEST_DUE and status.test_from and status.test_due and status.test_latest \
                    and today >= status.test_from:
                late = today > status.test_latest
                rows.append(DueRow(pid, name, phone, status.series, status.round, None, OVERDUE if late else DUE,
                                   status.test_due, status.test_from, (today - status.test_due).days if late else 0))
    if overdue_only:
        rows = [row for row in rows if row.state == OVERDUE]
    return sorted(rows, key=lambda r: (r.state != OVERDUE, -r.days_overdue, r.due or date.min, r.name, r.patient_id))


def round_counts(db: Any, patient_ids: Iterable[str], *, schedule_id: str = SCHEDULE,
                 today: date | None = None) -> dict[str, int]:
    """A vaccination round's counts over its people: how many had a dose, completed a series,
    are immune, were found below the protective level once (a second series due) or twice
    (non-responders, to be tested for HBsAg and anti-HBc), and wait for their test."""
    today = today or date.today()
    chosen = schedule(schedule_id)
    doses = _doses(db, chosen, today)
    results = _results(db, chosen)
    tested = [series for series in chosen.series if series.id in results]
    counts = dict.fromkeys(("population", "vaccinated", "completed", "immune", "repeat_series", "non_responders",
                            "test_due"), 0)
    for pid in set(patient_ids):
        held = doses.get(pid, [])
        counts["population"] += 1
        counts["vaccinated"] += any(d.counts for d in held)
        if not tested:
            continue
        status = _standing(chosen, held, results, pid)[tested[0].id]
        counts["completed"] += status.state in (TEST_DUE, IMMUNE, REPEAT_SERIES, NON_RESPONDER)
        counts["immune"] += status.state == IMMUNE
        counts["repeat_series"] += status.state == REPEAT_SERIES or (status.round == 2 and status.state == TEST_DUE)
        counts["non_responders"] += status.state == NON_RESPONDER
        counts["test_due"] += status.state == TEST_DUE
    return counts


def _immunity(status: ImmunityStatus) -> dict[str, Any]:
    return {"series": status.series, "state": status.state, "round": status.round, "evidence": status.evidence,
            "restart": status.restart, "test_from": status.test_from, "test_due": status.test_due,
            "task": status.task, "result_id": status.result_id}


def card(db: Any, patient_id: str, *, today: date) -> dict[str, Any]:
    """A person's immunization card: every record (entered in error ones too, marked), and for
    each schedule they hold a dose of or are of the age for, each dose's state and the immunity
    its test shows."""
    fields = patient_fields(db, patient_id)
    if fields is None:
        raise FieldkitError(_("no patient with id {id}").format(id=patient_id))
    birth = date.fromisoformat(fields["birth_date"]) if fields.get("birth_date") else None
    records = doses_of(db, patient_id)
    held = [HeldDose.from_row(row, today) for row in records]
    holding = {dose.vaccine for dose in held if dose.counts}
    shown = []
    for chosen in schedules().values():
        if not (holding & chosen.vaccines or chosen.for_age(birth, today)):
            continue
        standing = {series.id: assess(series, held, results_of(db, patient_id, series.test.loinc))
                    for series in chosen.series if series.test is not None}
        restarted = {key: value for status in standing.values() for key, value in restarts(status).items()}
        states = derive(chosen, birth or OLDEST_BIRTH, held, today, restarts=restarted)
        shown.append({"schedule": chosen.ref, "name": chosen.name, "doses": [asdict(state) for state in states],
                      "immunity": [_immunity(status) for status in standing.values()]})
    return {"patient_id": patient_id, "name": full_name(fields), "birth_date": fields.get("birth_date"),
            "records": records, "schedules": shown}
