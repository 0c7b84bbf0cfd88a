"""The referral lists staff work from, at either end, and one referral with its whole history.

Read jobs, shared by the screens and the command line. Each list is one query over the folded
`referrals` table (its status is the fold of the events), so a list is right after one fold.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from fieldkit.records import facilities
from fieldkit.records.names import NAME_FIELDS, full_name
from fieldkit.records.queries import conflicts, staff_names, when
from fieldkit.store.lifecycle import TO_SEND

AWAITING_ARRIVAL = ("sent", "acknowledged", "issued", "requested", "approved")
URGENCY_RANK = {"emergency": 0, "urgent": 1, "routine": 2}
_COLUMNS = ("id", "patient_id", "number", "kind", "to_facility", "from_facility", "to_service", "urgency", "reason",
            "reason_code", "status", "expected_by", "created")
_PATIENT = ", ".join(f"p.{name}" for name in NAME_FIELDS)


def _rows(conn: Any, where: str, params: tuple = ()) -> list[dict[str, Any]]:
    found = []
    for row in conn.execute(
            f"SELECT {', '.join('r.' + c for c in _COLUMNS)}, {_PATIENT} FROM referrals r "
            f"LEFT JOIN patients p ON p.id = r.patient_id WHERE r.voided IS NOT 1 AND {where}", params):
        item = dict(zip(_COLUMNS, row[:len(_COLUMNS)]))
        item["patient_name"] = full_name(dict(zip(NAME_FIELDS, row[len(_COLUMNS):])))
        item["to_name"], item["from_name"] = facilities.name_of(item["to_facility"]), facilities.name_of(item["from_facility"])
        item["listed"] = item["to_facility"] in facilities.load()
        found.append(item)
    return found


def _overdue(items: list[dict[str, Any]], on: date) -> list[dict[str, Any]]:
    for item in items:
        expected = date.fromisoformat(item["expected_by"]) if item.get("expected_by") else None
        item["days_overdue"] = max(0, (on - expected).days) if expected else 0
    return items


def by_urgency_then_overdue(item: dict[str, Any]) -> tuple:
    return URGENCY_RANK.get(item["urgency"], 3), -item.get("days_overdue", 0), item["created"]


def tracker(conn: Any, on: date) -> dict[str, list[dict[str, Any]]]:
    """The referring unit's lists: awaiting the board, to send, awaiting arrival (overdue first,
    by urgency then days overdue), feedback to act on, and events two laptops disagree on."""
    waiting = _overdue(_rows(conn, f"r.status IN ({','.join('?' * len(AWAITING_ARRIVAL))})", AWAITING_ARRIVAL), on)
    overdue = sorted((r for r in waiting if r["days_overdue"] > 0), key=by_urgency_then_overdue)
    feedback = [dict(zip(("followup_id", "due", "advice", "referral_id"), row)) | {"patient_id": pid}
                for *row, pid in conn.execute(
        "SELECT f.id, f.due, f.reason, f.referral_id, f.patient_id FROM followups f WHERE f.referral_id IS NOT NULL "
        "AND f.status = 'open' AND f.voided IS NOT 1 ORDER BY f.due")]
    return {
        "awaiting_board": _rows(conn, "r.status = 'awaiting_approval' ORDER BY r.created"),
        "to_send": sorted(_rows(conn, f"r.status IN ({','.join('?' * len(TO_SEND))})", TO_SEND),
                          key=by_urgency_then_overdue),
        "overdue": overdue,
        "awaiting_arrival": sorted((r for r in waiting if r["days_overdue"] == 0 and r["status"] not in TO_SEND),
                                   key=by_urgency_then_overdue),
        "feedback": feedback,
        "disputed": [c for c in conflicts(conn, entity="referral")],
    }


def to_us(conn: Any, facility: str, *, include_closed: bool = False) -> list[dict[str, Any]]:
    """Referrals a hospital's desk receives: to this facility, open ones first, most urgent first."""
    found = _rows(conn, "r.to_facility = ?" + ("" if include_closed else
                  " AND r.status IN ('requested', 'approved', 'issued', 'sent', 'acknowledged', 'arrived')"), (facility,))
    return sorted(found, key=lambda r: (r["status"] == "arrived", URGENCY_RANK.get(r["urgency"], 3), r["created"]))


def detail(conn: Any, referral_id: str) -> dict[str, Any] | None:
    """One referral: the request, the snapshot, every event (who, when, where; applied or not)."""
    found = _rows(conn, "r.id = ?", (referral_id,))
    if not found:
        return None
    item = found[0]
    row = conn.execute("SELECT snapshot, encounter_id, needs_approval, follows, escalated_from, enrolment_id "
                       "FROM referrals WHERE id = ?", (referral_id,)).fetchone()
    item["snapshot"] = json.loads(row[0]) if row[0] else {}
    item.update(zip(("encounter_id", "needs_approval", "follows", "escalated_from", "enrolment_id"), row[1:]))
    staff = staff_names(conn)
    item["events"] = [{"id": event_id, "type": kind, "at": when(ver), "author": author,
                       "author_name": staff.get(author, ""), "applied": bool(applied), **json.loads(data)}
                      for event_id, ver, author, kind, data, applied in conn.execute(
        "SELECT id, ver, author, type, data, applied FROM referral_events WHERE referral_id = ? ORDER BY ver",
        (referral_id,))]
    item["conflicts"] = conflicts(conn, entity="referral", entity_id=referral_id, staff=staff)
    return item
