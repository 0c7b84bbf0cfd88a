"""Reading the folded tables into what a screen or a `--json` command shows."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from fieldkit.store.entities import MUTABLE, PATIENT
from fieldkit.store.hlc import millis


def when(ver: str) -> str:
    """The wall-clock time inside a version string, as ISO 8601 UTC."""
    stamp = millis(int(ver.split(".", 1)[0], 16))
    return datetime.fromtimestamp(stamp / 1000, timezone.utc).isoformat(timespec="seconds")


def _row(conn, entity: str, entity_id: str) -> dict[str, Any] | None:
    spec = MUTABLE[entity]
    cursor = conn.execute(f"SELECT * FROM {spec.table} WHERE id = ?", (entity_id,))
    row = cursor.fetchone()
    if row is None:
        return None
    record = dict(zip([c[0] for c in cursor.description], row))
    for name in spec.json_fields:
        record[name] = json.loads(record[name]) if record[name] else None
    for name in spec.flag_fields:
        record[name] = None if record[name] is None else bool(record[name])
    return record


def patient_fields(conn, patient_id: str) -> dict[str, Any] | None:
    """Current demographics as journal field values (what `Patient.model_validate` takes)."""
    record = _row(conn, "patient", patient_id)
    if record is None:
        return None
    return {name: record[name] for name in PATIENT.fields if record[name] is not None}


def patient_record(conn, patient_id: str) -> dict[str, Any] | None:
    """Everything the chart shows about one patient."""
    record = _row(conn, "patient", patient_id)
    if record is None:
        return None
    record["registered"], record["updated"] = when(record.pop("created")), when(record["updated"])
    encounters = []
    for eid, ver, author, data in conn.execute(
        "SELECT e.id, e.ver, e.author, j.data FROM encounters e JOIN journal j ON j.origin = e.origin "
        "AND j.seq = e.seq WHERE e.patient_id = ? ORDER BY e.recorded DESC", (patient_id,)
    ):
        amendments = [{"kind": kind, "at": when(a_ver), "author": a_author, **json.loads(a_data)}
                      for kind, a_ver, a_author, a_data in conn.execute(
                          "SELECT kind, ver, author, data FROM amendments WHERE encounter_id = ? ORDER BY ver", (eid,))]
        encounters.append({"id": eid, "at": when(ver), "author": author, **json.loads(data),
                           "amendments": amendments,
                           "entered_in_error": any(a["kind"] == "entered_in_error" for a in amendments)})
    record["encounters"] = encounters
    record["followups"] = [dict(zip(("id", "due", "reason", "status"), r)) for r in conn.execute(
        "SELECT id, due, reason, status FROM followups WHERE patient_id = ? AND voided IS NOT 1 ORDER BY due", (patient_id,))]
    record["referrals"] = [dict(zip(("id", "to_facility", "reason", "urgency", "status"), r)) for r in conn.execute(
        "SELECT id, to_facility, reason, urgency, status FROM referrals WHERE patient_id = ? AND voided IS NOT 1",
        (patient_id,))]
    record["conflicts"] = conflicts(conn, entity_id=patient_id)
    return record


def conflicts(conn, *, entity_id: str | None = None, review_only: bool = False,
              include_resolved: bool = False) -> list[dict[str, Any]]:
    sql = ("SELECT c.id, c.entity_id, c.field, c.safety, c.candidates, r.reason, r.author "
           "FROM conflicts c LEFT JOIN resolutions r ON r.conflict_id = c.id WHERE 1")
    params: list[Any] = []
    if entity_id:
        sql += " AND c.entity_id = ?"
        params.append(entity_id)
    if review_only:
        sql += " AND c.safety = 1"
    if not include_resolved:
        sql += " AND r.conflict_id IS NULL"
    return [{"id": cid, "patient_id": pid, "field": name, "needs_review": bool(safety),
             "candidates": json.loads(candidates), "resolved": reason is not None,
             "resolution": {"reason": reason, "by": author} if reason is not None else None}
            for cid, pid, name, safety, candidates, reason, author in conn.execute(sql + " ORDER BY c.id", params)]


def due_followups(conn, until: str, *, limit: int = 50) -> list[dict[str, Any]]:
    return [dict(zip(("id", "patient_id", "due", "reason"), r)) for r in conn.execute(
        "SELECT id, patient_id, due, reason FROM followups WHERE status = 'open' AND voided IS NOT 1 "
        "AND due <= ? ORDER BY due LIMIT ?", (until, limit))]


def pending_referrals(conn, *, limit: int = 50) -> list[dict[str, Any]]:
    return [dict(zip(("id", "patient_id", "to_facility", "urgency", "reason"), r)) for r in conn.execute(
        "SELECT id, patient_id, to_facility, urgency, reason FROM referrals WHERE status = 'pending' "
        "AND voided IS NOT 1 ORDER BY urgency = 'emergency' DESC, urgency = 'urgent' DESC, created LIMIT ?",
        (limit,))]
