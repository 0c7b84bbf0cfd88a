"""A referral's status, derived from its append-only events by one transition table (DESIGN 2).

Nobody writes a referral's status. Each event (issued, sent, arrived, feedback, cancelled...) is a
journal entry of its own, recording the last event its author saw (`after`). The fold replays a
referral's events in version order through `TRANSITIONS`:
- an event legal from the current status moves it;
- an event that is not, and was made without seeing the latest applied one, is concurrent with
  it: both stay in the record, the status keeps the earlier-version move, and a conflict holding
  both waits for a supervisor (arrived on one laptop, cancelled on another). Two concurrent events
  that agree (both cancelled) are no conflict;
- a supervisor's `resolve` event settles such a conflict by naming the event that stands, whose
  status then holds even where the table has no such move.
The replay reads every event of the referral each time, so the status is the same whatever order
the entries arrived in. Writers check the same table before they append (records/referrals.py).
"""

from __future__ import annotations

import hashlib
from typing import Any

from fieldkit.store.journal import canonical, parse, version

OPEN = ("awaiting_approval", "requested", "approved", "issued", "sent", "acknowledged", "arrived")
CLOSED = ("completed", "declined", "cancelled", "redirected", "not_attended", "lost")
STATUSES = OPEN + CLOSED
TO_SEND = ("requested", "approved", "issued")  # the unit still has the patient: the referral has not gone
_BEFORE_ARRIVAL = ("requested", "approved", "issued", "sent", "acknowledged")
_NOT_CLOSED = OPEN

# event -> {status it may follow: status it leads to}
TRANSITIONS: dict[str, dict[str, str]] = {
    "approved": {"awaiting_approval": "approved"},
    "declined": {"awaiting_approval": "declined"},
    "issued": {"requested": "issued", "approved": "issued"},
    "sent": {"requested": "sent", "approved": "sent", "issued": "sent"},
    "acknowledged": {"sent": "acknowledged", "issued": "acknowledged"},
    "arrived": dict.fromkeys(_BEFORE_ARRIVAL, "arrived"),
    # Feedback closes the loop: after arrival, or (an e-consultation, where the specialist reviews
    # the record and the patient stays home) once the request has reached the specialist.
    "feedback": {"sent": "completed", "acknowledged": "completed", "arrived": "completed"},
    "completed": {"arrived": "completed"},
    "cancelled": dict.fromkeys(_NOT_CLOSED, "cancelled"),
    "redirected": dict.fromkeys(_BEFORE_ARRIVAL, "redirected"),
    "not_attended": dict.fromkeys(_BEFORE_ARRIVAL, "not_attended"),
    "lost": dict.fromkeys(_BEFORE_ARRIVAL, "lost"),
}
# Exits: made without seeing a move that now stands, they contradict it even where the table
# allows them (cancelled not knowing the patient was sent). Progress events (sent, arrived) made
# without seeing a later one are simply behind it: the referral was sent, and it arrived.
EXITS = frozenset({"declined", "cancelled", "redirected", "not_attended", "lost"})
PROGRESS = ("approved", "issued", "sent", "acknowledged", "arrived")
EVENTS = tuple(TRANSITIONS)
# Where the status stands once an event has happened, whatever it followed: what a supervisor's
# choice of that event restores.
LEADS_TO = {event: next(iter(moves.values())) for event, moves in TRANSITIONS.items()}
NOT_ATTENDED_REASONS = ("cost", "transport", "security", "refused", "died", "went_elsewhere", "other")


def first_status(needs_approval: bool) -> str:
    return "awaiting_approval" if needs_approval else "requested"


def next_status(status: str, event: str) -> str | None:
    """Where `event` moves a referral standing at `status`; None: not a move the table has."""
    return TRANSITIONS.get(event, {}).get(status)


def conflict_key(referral_id: str, after: str) -> str:
    return hashlib.sha256(f"{referral_id}\nstatus\n{after}".encode()).hexdigest()[:32]


def derive(conn: Any, referral_id: str) -> None:
    """Replay a referral's events into its status, which events moved it, and its conflicts."""
    row = conn.execute("SELECT needs_approval FROM referrals WHERE id = ?", (referral_id,)).fetchone()
    if row is None:
        return  # its events arrived first; the referral's own entry replays them when it comes
    status = first_status(bool(row[0]))
    last = ""  # version of the latest event that moved the status
    last_id = ""
    applied: list[str] = []
    conflicts: dict[str, list[dict[str, Any]]] = {}
    events = conn.execute("SELECT id, ver, author, type, data FROM referral_events WHERE referral_id = ?",
                          (referral_id,)).fetchall()
    events = sorted(events + _legacy(conn, referral_id), key=lambda event: event[1])
    by_id = {event_id: (ver, author, kind) for event_id, ver, author, kind, _ in events}
    for event_id, ver, author, kind, data in events:
        payload = parse(data)
        if kind == "resolve":
            chosen = by_id.get(payload.get("chosen", ""))
            if chosen and chosen[2] in LEADS_TO:
                status, last, last_id = LEADS_TO[chosen[2]], ver, event_id
                applied.append(event_id)
            for conflict_id in payload.get("resolves", ()):
                conn.execute("INSERT OR IGNORE INTO resolutions VALUES (?, ?, ?, ?)",
                             (conflict_id, ver, author, payload.get("reason", "")))
            continue
        moved = next_status(status, kind)
        concurrent = payload.get("after", "") != last and bool(last_id) and not payload.get("legacy")
        behind = moved is None and kind in PROGRESS and status in OPEN
        if concurrent and not behind and (moved is None or kind in EXITS):
            # Made without seeing the move that now stands, and at odds with it: both stay, a
            # supervisor decides. The same event twice (both cancelled) is agreement, not a dispute.
            if by_id[last_id][2] != kind:
                sides = conflicts.setdefault(conflict_key(referral_id, payload.get("after", "")),
                                             [_side(by_id, last_id)])
                sides.append(_side(by_id, event_id))
        elif moved is not None:
            status, last, last_id = moved, ver, event_id
            applied.append(event_id)
    conn.execute("UPDATE referrals SET status = ? WHERE id = ?", (status, referral_id))
    conn.execute("UPDATE referral_events SET applied = 0 WHERE referral_id = ?", (referral_id,))
    conn.executemany("UPDATE referral_events SET applied = 1 WHERE id = ?", [(event_id,) for event_id in applied])
    conn.execute("DELETE FROM conflicts WHERE entity = 'referral' AND entity_id = ?", (referral_id,))
    for conflict_id, sides in conflicts.items():
        conn.execute("INSERT INTO conflicts VALUES (?, 'referral', ?, 'status', ?, 1, ?)",
                     (conflict_id, referral_id, "", canonical(sides)))


def _legacy(conn: Any, referral_id: str) -> list[tuple[str, str, str, str, str]]:
    """Status writes of fieldkit 0.1 (before events), read as the events they stood for, in turn."""
    found = []
    for hlc, origin, seq, author, data in conn.execute(
            "SELECT hlc, origin, seq, author, data FROM journal WHERE entity_id = ? AND entity = 'referral'",
            (referral_id,)):
        status = parse(data).get("fields", {}).get("status")
        if status in ("sent", "arrived", "cancelled"):
            found.append((f"{origin}:{seq}", version(hlc, origin), author, status, '{"legacy":true}'))
    return found


def _side(by_id: dict[str, tuple[str, str, str]], event_id: str) -> dict[str, Any]:
    ver, author, kind = by_id[event_id]
    return {"ver": ver, "author": author, "value": kind, "event": event_id}
