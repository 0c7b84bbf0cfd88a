"""Reading the folded tables into what a screen or a `--json` command shows, and opening a
patient's record, the one read that writes: it is audited in the transaction that reads it."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from typing import Any

from fieldkit.errors import FieldkitError
from fieldkit.store.db import Transaction
from fieldkit.store.entities import MUTABLE, PATIENT
from fieldkit.store.hlc import millis, pack
from fieldkit.store.keystore import User


def when(ver: str) -> str:
    """The wall-clock time inside a version string, as ISO 8601 UTC."""
    stamp = millis(int(ver.split(".", 1)[0], 16))
    return datetime.fromtimestamp(stamp / 1000, UTC).isoformat(timespec="seconds")


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
    # A safety field two edits disagree on shows no single value until a supervisor settles it:
    # every view (chart, CLI, letters, exports) reads this, not the field's last-writer value.
    record["disputed"] = {c["field"]: [candidate["value"] for candidate in c["candidates"]]
                          for c in record["conflicts"] if c["needs_review"]}
    return record


def open_patient(tx: Transaction, user: User, patient_id: str) -> dict[str, Any]:
    """A patient's whole record; the opening is audited in the transaction that reads it."""
    record = patient_record(tx, patient_id)
    if record is None:
        raise FieldkitError(f"no patient with id {patient_id}")
    tx.audit(user.id, "view patient", patient_id)
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


# Every band a NEWS2 result carries (`scores.news2`), least to most urgent, then the two that
# give no risk at all: a summary counts each, so an unscored child never reads as "low".
NEWS2_BANDS_SHOWN = ("low", "low-medium", "medium", "high", "incomplete", "under 16")
HOUR_MS = 3600 * 1000


def _day_bounds(day: str) -> tuple[int, int]:
    """The local day's first and last-plus-one millisecond: a clinic's day is its own midnight."""
    start = date.fromisoformat(day)
    first, after = (datetime.combine(d, dt_time()).astimezone() for d in (start, start + timedelta(days=1)))
    return int(first.timestamp() * 1000), int(after.timestamp() * 1000)


def day_summary(conn, day: str) -> dict[str, Any]:
    """What the clinic did on one local day: patients seen, encounters by NEWS2 band and by hour,
    referrals made, follow-ups due that day and those left open from before.

    Encounters entered in error are not counted; a merged duplicate counts as the patient it was
    merged into, so one person seen under two registrations is one patient seen.
    """
    first, after = _day_bounds(day)
    live = ("FROM encounters e LEFT JOIN patients p ON p.id = e.patient_id WHERE e.recorded >= ? AND e.recorded < ? "
            "AND NOT EXISTS (SELECT 1 FROM amendments a WHERE a.encounter_id = e.id AND a.kind = 'entered_in_error')")
    patients, encounters = conn.execute(
        f"SELECT count(DISTINCT coalesce(p.merged_into, e.patient_id)), count(*) {live}", (first, after)).fetchone()
    bands = dict.fromkeys(NEWS2_BANDS_SHOWN, 0)
    for band, count in conn.execute(f"SELECT coalesce(e.news2_band, 'incomplete'), count(*) {live} GROUP BY 1",
                                    (first, after)):
        bands[band if band in bands else "incomplete"] += count
    hours = [0] * 24
    for hour, count in conn.execute(f"SELECT (e.recorded - ?) / {HOUR_MS}, count(*) {live} GROUP BY 1",
                                    (first, first, after)):
        hours[min(hour, 23)] += count  # a 25-hour day (clocks back) folds its last hour into 23:00
    # Referral versions start with the fixed-width hex HLC, so a day is a range of strings.
    lo, hi = (f"{pack(ms):016x}" for ms in (first, after))
    referrals = dict(conn.execute("SELECT urgency, count(*) FROM referrals WHERE created >= ? AND created < ? "
                                  "AND voided IS NOT 1 GROUP BY urgency", (lo, hi)))
    due = dict(conn.execute("SELECT status, count(*) FROM followups WHERE due = ? AND voided IS NOT 1 "
                            "GROUP BY status", (day,)))
    overdue = conn.execute("SELECT count(*) FROM followups WHERE due < ? AND status = 'open' AND voided IS NOT 1",
                           (day,)).fetchone()[0]
    return {"day": day, "patients": patients, "encounters": encounters, "bands": bands, "hours": hours,
            "referrals": referrals, "followups_due": due, "overdue": overdue}


def flagged_duplicates(conn, *, limit: int = 50) -> list[dict[str, Any]]:
    """Pairs a registration warned might be one person, still both live and unmerged, newest first.

    The warning was journalled with the registration ("registered anyway", with a reason), so the
    pairs cost nothing to find again: no fuzzy matching over the whole register.
    """
    rows = conn.execute(
        "SELECT d.value, j.entity_id, coalesce(json_extract(j.data, '$.reason'), '') "
        "FROM journal j, json_each(j.data, '$.possible_duplicates') d "
        "JOIN patients a ON a.id = d.value JOIN patients b ON b.id = j.entity_id "
        # instr first: parsing only the few registrations that carry a warning, not every one
        "WHERE j.entity = 'patient' AND j.op = 'create' AND instr(j.data, '\"possible_duplicates\"') "
        "AND a.merged_into IS NULL AND b.merged_into IS NULL "
        "AND a.voided IS NOT 1 AND b.voided IS NOT 1 ORDER BY j.hlc DESC LIMIT ?", (limit,))
    return [{"first": first, "second": second, "reason": reason} for first, second, reason in rows]


def staff_named(conn, text: str) -> list[tuple[str, str]]:
    """(id, name) of the clinic's users (on any laptop) with this name, this id or an id starting so."""
    return conn.execute("SELECT id, name FROM users WHERE name = ? OR id = ? OR substr(id, 1, length(?)) = ?",
                        (text, text, text, text)).fetchall()
