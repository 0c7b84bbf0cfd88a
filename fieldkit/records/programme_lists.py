"""A cohort's daily lists: today's due and overdue check-ins, escalations waiting for a doctor,
patients who missed two check-ins in a row (for the supervisor), and enrolments ready to close.

Nothing is stored per day: each list reads the active enrolments and the days that have a
check-in, and computes where each patient stands on the programme's plan (records/checkins.py),
so 2,000 patients followed for 14 days are 2,000 rows and their check-ins, not 28,000 tasks.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from fieldkit.records.alerts import classify, load_ruleset
from fieldkit.records.checkins import Standing, priority, standing
from fieldkit.records.enrolments import programmes
from fieldkit.records.names import NAME_FIELDS, full_name
from fieldkit.records.queries import staff_names, when

_PATIENT = ", ".join(f"p.{name}" for name in NAME_FIELDS)


@dataclass(frozen=True)
class Followed:
    """One active enrolment on a check-in plan, where it stands today."""

    enrolment_id: str
    patient_id: str
    patient_name: str
    phone: str
    programme: str
    team: str
    status: str
    enrolled_on: str
    standing: Standing
    last_alert: str  # the latest check-in's level: none, amber, red ('' before the first)


def followed(conn: Any, on: date, *, programme: str | None = None, team: str | None = None) -> list[Followed]:
    """Every active or paused enrolment of a programme with check-ins, with its standing on `on`."""
    plans = {pid: p for pid, p in programmes().items() if p.checkin is not None and programme in (None, pid)}
    if not plans:
        return []
    marks = ",".join("?" * len(plans))
    sql = (f"SELECT e.id, e.patient_id, e.programme, e.team, e.status, e.enrolled_on, e.stays, p.phone, {_PATIENT} "
           f"FROM enrolments e LEFT JOIN patients p ON p.id = e.patient_id WHERE e.status IN ('active', 'paused') "
           f"AND e.voided IS NOT 1 AND e.programme IN ({marks})")
    params: list[Any] = list(plans)
    if team:
        sql += " AND e.team = ?"
        params.append(team)
    rows = conn.execute(sql, params).fetchall()
    days: dict[str, set[str]] = defaultdict(set)  # enrolment -> the days (ISO) that have a check-in
    latest: dict[str, str] = {}  # enrolment -> the alert of its latest check-in (rows come in that order)
    for enrolment_id, day, alert in conn.execute(
            "SELECT c.enrolment_id, c.day, c.alert FROM checkins c JOIN enrolments e ON e.id = c.enrolment_id "
            f"WHERE e.status IN ('active', 'paused') AND e.programme IN ({marks}) ORDER BY c.enrolment_id, c.day, c.ver",
            list(plans)):
        days[enrolment_id].add(day)
        latest[enrolment_id] = alert
    found = []
    for enrolment_id, patient_id, pid, team_name, status, enrolled_on, stays, phone, *names in rows:
        plan = plans[pid].plan(date.fromisoformat(enrolled_on))
        assert plan is not None
        paused = [(date.fromisoformat(a), date.fromisoformat(b) if b else None) for a, b in json.loads(stays)] if stays else []
        done = {date.fromisoformat(day) for day in days[enrolment_id]}
        found.append(Followed(enrolment_id, patient_id, full_name(dict(zip(NAME_FIELDS, names))), phone or "", pid,
                              team_name or "", status, enrolled_on, standing(plan, done, on, paused),
                              latest.get(enrolment_id, "")))
    return found


def worklist(conn: Any, on: date, *, programme: str | None = None, team: str | None = None) -> list[Followed]:
    """Today's due and overdue check-ins: highest risk (the last check-in's alert) first, then
    the most days overdue."""
    due = [f for f in followed(conn, on, programme=programme, team=team)
           if f.status == "active" and f.standing.next_due is not None and f.standing.next_due <= on]
    return sorted(due, key=lambda f: (priority(f.last_alert or "none", f.standing.days_overdue), f.patient_name))


def missed_twice(conn: Any, on: date, *, programme: str | None = None) -> list[Followed]:
    """Patients whose last two check-ins in a row were missed: the supervisor calls them."""
    return [f for f in followed(conn, on, programme=programme) if f.standing.misses_in_a_row >= 2]


def ready_to_close(conn: Any, on: date, *, programme: str | None = None) -> list[Followed]:
    return [f for f in followed(conn, on, programme=programme) if f.status == "active" and f.standing.finished]


def escalations(conn: Any) -> list[dict[str, Any]]:
    """Red check-ins no doctor has taken on yet (by a transfer or a note), oldest first."""
    staff = staff_names(conn)
    found = []
    for checkin_id, enrolment_id, patient_id, day, ver, author, data, *names in conn.execute(
            f"SELECT c.id, c.enrolment_id, c.patient_id, c.day, c.ver, c.author, j.data, {_PATIENT} FROM checkins c "
            "JOIN journal j ON j.origin = c.origin AND j.seq = c.seq LEFT JOIN patients p ON p.id = c.patient_id "
            "WHERE c.alert = 'red' AND NOT EXISTS (SELECT 1 FROM referrals r WHERE r.escalated_from = c.id) "
            "AND NOT EXISTS (SELECT 1 FROM checkin_reviews v WHERE v.checkin_id = c.id) ORDER BY c.ver"):
        payload = json.loads(data)
        found.append({"id": checkin_id, "enrolment_id": enrolment_id, "patient_id": patient_id, "day": day,
                      "at": when(ver), "author_name": staff.get(author, author),
                      "patient_name": full_name(dict(zip(NAME_FIELDS, names))), "reasons": reasons(payload)})
    return found


def reasons(checkin: dict[str, Any]) -> list[str]:
    """Why a check-in reached its level, in the reader's language, read by the rule set version it
    was recorded with (stored as its id@version; a table is never re-scored by a later one)."""
    ruleset_id = (checkin.get("alert") or {}).get("ruleset", "").split("@")[0]
    if not ruleset_id:
        return []
    readings = {name: checkin.get(name) for name in ("spo2", "resp_rate", "pulse", "temperature_c")}
    return list(classify(load_ruleset(ruleset_id), readings, checkin.get("symptoms", ())).reasons)


def checkins_of(conn: Any, enrolment_id: str) -> list[dict[str, Any]]:
    """An enrolment's check-ins, latest day first, each with its reasons and any review."""
    staff = staff_names(conn)
    found = []
    for checkin_id, day, ver, author, alert, data in conn.execute(
            "SELECT c.id, c.day, c.ver, c.author, c.alert, j.data FROM checkins c JOIN journal j ON j.origin = c.origin "
            "AND j.seq = c.seq WHERE c.enrolment_id = ? ORDER BY c.day DESC, c.ver DESC", (enrolment_id,)):
        payload = json.loads(data)
        found.append({**payload, "id": checkin_id, "day": day, "at": when(ver), "alert_level": alert,
                      "author_name": staff.get(author, author), "reasons": reasons(payload)})
    return found
