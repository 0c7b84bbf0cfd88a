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
from fieldkit.records.names import NAME_PARTS, full_name
from fieldkit.records.search import SUMMARY, PatientSummary, recent, search
from fieldkit.records.services import validated
from fieldkit.store.keystore import User

PAGE = 20


@dataclass(frozen=True)
class Today:
    """What the home screen lists before anyone types."""

    due: list[dict[str, Any]] = field(default_factory=list)
    referrals: list[dict[str, Any]] = field(default_factory=list)
    recent: list[PatientSummary] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)  # patient id -> name, for the two task lists


def _names(conn: Any, ids: list[str]) -> dict[str, str]:
    marks = ",".join("?" * len(ids))
    return {pid: full_name(dict(zip(NAME_PARTS, parts))) for pid, *parts in conn.execute(
        f"SELECT id, {', '.join(NAME_PARTS)} FROM patients WHERE id IN ({marks})", ids)} if ids else {}


def today(conn: Any, on: date, *, limit: int = PAGE) -> Today:
    """Follow-ups due by `on`, referrals waiting to be sent, the latest patients."""
    due = queries.due_followups(conn, on.isoformat(), limit=limit)
    referrals = queries.pending_referrals(conn, limit=limit)
    names = _names(conn, sorted({task["patient_id"] for task in due + referrals}))
    return Today(due, referrals, recent(conn, limit=limit), names)


def conflict_inbox(conn: Any) -> list[dict[str, Any]]:
    """Open conflicts, safety fields first, each with the patient's name and the authors' names."""
    found = queries.conflicts(conn)
    staff = dict(conn.execute("SELECT id, name FROM users").fetchall())
    for conflict in found:
        conflict["patient_name"] = full_name(queries.patient_fields(conn, conflict["patient_id"]) or {})
        for candidate in conflict["candidates"]:
            candidate["author"] = staff.get(candidate["author"], candidate["author"])
    return sorted(found, key=lambda c: (not c["needs_review"], c["patient_name"], c["field"]))


def day_summary(conn: Any, user: User, on: date) -> dict[str, Any]:
    require(user.role, "see the day summary")
    return queries.day_summary(conn, on.isoformat())


def duplicate_pairs(conn: Any, user: User, query: str = "", *, limit: int = PAGE) -> list[dict[str, Any]]:
    """Pairs that may be one person: those flagged at registration, or with a query, the likely
    duplicates of the first patients it finds. Each is {first, second: PatientSummary, and why:
    the matcher's reasons (words to translate) or, flagged, the reason typed then}."""
    require(user.role, "merge patients")
    if query.strip():
        found = []
        for patient in search(conn, query, limit=5):
            fields = validated(Patient, queries.patient_fields(conn, patient.id))
            found += [(patient.id, match.patient.id, {"reasons": match.reasons})
                      for match in likely_duplicates(conn, fields, exclude=patient.id)]
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
