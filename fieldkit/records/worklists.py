"""The lists staff work from: today's tasks, the conflict inbox, pairs that may be one person.

Read jobs (functions of a read connection), shared by the clinic screen and the command line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from fieldkit.permissions import require
from fieldkit.records import queries
from fieldkit.records.duplicates import likely_duplicates
from fieldkit.records.models import Patient
from fieldkit.records.names import NAME_FIELDS, full_name
from fieldkit.records.search import SUMMARY, PatientSummary, recent, search
from fieldkit.records.services import validated
from fieldkit.store.keystore import User

PAGE = 20


@dataclass(frozen=True)
class Today:
    """What the home screen lists before anyone types: a page of each task list with its whole
    count (a page is not the day's work), and the latest patients."""

    due: list[dict[str, Any]] = field(default_factory=list)
    referrals: list[dict[str, Any]] = field(default_factory=list)
    recent: list[PatientSummary] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)  # patient id -> name, for the two task lists
    due_count: int = 0
    referrals_count: int = 0
    due_from: int = 0  # the first row of each page, counting from 0
    referrals_from: int = 0


def _names(conn: Any, ids: list[str]) -> dict[str, str]:
    marks = ",".join("?" * len(ids))
    return {pid: full_name(dict(zip(NAME_FIELDS, parts))) for pid, *parts in conn.execute(
        f"SELECT id, {', '.join(NAME_FIELDS)} FROM patients WHERE id IN ({marks})", ids)} if ids else {}


def _page_start(start: int, size: int, count: int) -> int:
    """A page's first row, moved back onto the last page when the list has shrunk under it."""
    return max(0, min(start, (count - 1) // size * size if count else 0))


def today(conn: Any, on: date, *, limit: int = PAGE, tasks: int = PAGE, due_from: int = 0,
          referrals_from: int = 0) -> Today:
    """Follow-ups due by `on` and referrals waiting to be sent, `tasks` of each from the rows
    asked for, with their counts; the latest patients."""
    # The same conditions as queries.due_followups and queries.pending_referrals, counted.
    due_count = conn.execute("SELECT count(*) FROM followups WHERE status = 'open' AND voided IS NOT 1 AND due <= ?",
                             (on.isoformat(),)).fetchone()[0]
    referrals_count = conn.execute(f"SELECT count(*) FROM referrals WHERE {queries.TO_SEND_SQL}"
                                   ).fetchone()[0]
    due_from, referrals_from = _page_start(due_from, tasks, due_count), _page_start(referrals_from, tasks, referrals_count)
    due = queries.due_followups(conn, on.isoformat(), limit=due_from + tasks)[due_from:]
    referrals = queries.pending_referrals(conn, limit=referrals_from + tasks)[referrals_from:]
    names = _names(conn, sorted({task["patient_id"] for task in due + referrals}))
    return Today(due, referrals, recent(conn, limit=limit), names, due_count, referrals_count, due_from, referrals_from)


def conflict_inbox(conn: Any) -> list[dict[str, Any]]:
    """Open conflicts, safety fields first, each with the patient's name (and, from queries, its
    authors' names)."""
    found = queries.conflicts(conn)
    for conflict in found:
        conflict["patient_name"] = full_name(queries.patient_fields(conn, conflict["patient_id"]) or {})
    return sorted(found, key=lambda c: (not c["needs_review"], c["patient_name"], c["field"]))


def day_summary(conn: Any, user: User, on: date) -> dict[str, Any]:
    require(user.role, "see the day summary")
    return queries.day_summary(conn, on.isoformat())


def duplicate_pairs(conn: Any, user: User, query: str = "", *, limit: int = PAGE) -> list[dict[str, Any]]:
    """Pairs that may be one person: those flagged at registration, or with a query, the records
    already merged into the first patients it finds (so a merge can be undone any time later),
    then their likely duplicates. Each is {first, second: PatientSummary, and why: {"merged": True},
    the matcher's reasons (words to translate) or, flagged, the reason typed then}."""
    require(user.role, "merge patients")
    found: list[tuple[str, str, dict[str, Any]]]
    if query.strip():
        found = []
        # A record's own id (a chart asks so) stands for that record, merged or not.
        own = queries.patient_fields(conn, query.strip())
        for patient_id in [query.strip()] if own else [patient.id for patient in search(conn, query, limit=5)]:
            found += [(patient_id, other, {"merged": True}) for other in queries.merged_here(conn, patient_id)]
            fields = validated(Patient, queries.patient_fields(conn, patient_id))
            found += [(patient_id, match.patient.id, {"reasons": match.reasons})
                      for match in likely_duplicates(conn, fields, exclude=patient_id)]
    else:
        found = [(pair["first"], pair["second"], {"registered_anyway": pair["reason"]})
                 for pair in queries.flagged_duplicates(conn, limit=limit)]
    unique: dict[frozenset, tuple[str, str, dict]] = {}
    for a, b, why in found:  # two found patients may each list the other
        unique.setdefault(frozenset((a, b)), (a, b, why))
    pairs = list(unique.values())[:limit]
    ids = sorted({pid for a, b, _why in pairs for pid in (a, b)})
    people = {row[0]: PatientSummary.from_row(row) for row in conn.execute(
        f"SELECT {SUMMARY} FROM patients WHERE id IN ({','.join('?' * len(ids))})", ids)}
    return [{"first": people[a], "second": people[b], "why": why} for a, b, why in pairs]
