"""Reading the folded tables into what a screen or a `--json` command shows, and opening a
patient's record, the one read that writes: it is audited in the transaction that reads it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from typing import Any

from fieldkit.errors import FieldkitError
from fieldkit.records import facilities
from fieldkit.records.names import full_name
from fieldkit.store.db import Transaction
from fieldkit.store.entities import MUTABLE, PATIENT
from fieldkit.store.hlc import millis, pack
from fieldkit.store.keystore import User
from fieldkit.store.lifecycle import TO_SEND


def rows_in(db: Any, sql: str, values: list[Any]) -> Iterator[dict[str, Any]]:
    """The rows of `sql` whose `{marks}` takes each of `values`, 500 at a time (older SQLite builds
    take at most 999 parameters)."""
    for start in range(0, len(values), 500):
        part = values[start:start + 500]
        cursor = db.execute(sql.format(marks=",".join("?" * len(part))), part)
        names = [c[0] for c in cursor.description]
        yield from (dict(zip(names, row)) for row in cursor.fetchall())


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


def survivor(conn, patient_id: str) -> str:
    """The record a merged one now lives in, following merges of merges; itself if not merged.

    Two laptops that merged two records into each other leave a loop: each is then its own
    survivor, so neither disappears."""
    seen = [patient_id]
    while (row := conn.execute("SELECT merged_into FROM patients WHERE id = ?", (seen[-1],)).fetchone()) and row[0]:
        if row[0] in seen:
            return patient_id
        seen.append(row[0])
    return seen[-1]


def merged_here(conn, patient_id: str) -> list[str]:
    """Records merged into this one, directly or through one merged into it, oldest merge first."""
    return [pid for pid, _depth in conn.execute(
        "WITH RECURSIVE under(id, depth) AS (SELECT id, 1 FROM patients WHERE merged_into = ? "
        "UNION SELECT p.id, u.depth + 1 FROM patients p JOIN under u ON p.merged_into = u.id WHERE u.depth < 16) "
        "SELECT u.id, min(u.depth) FROM under u JOIN patients p ON p.id = u.id WHERE u.id != ? "
        "GROUP BY u.id ORDER BY min(p.updated), u.id", (patient_id, patient_id))]


def _encounters(conn, ids: list[str], staff: dict[str, str]) -> list[dict[str, Any]]:
    marks = ",".join("?" * len(ids))
    encounters = []
    for eid, ver, author, data in conn.execute(
        "SELECT e.id, e.ver, e.author, j.data FROM encounters e JOIN journal j ON j.origin = e.origin "
        f"AND j.seq = e.seq WHERE e.patient_id IN ({marks}) ORDER BY e.recorded DESC, e.ver DESC", ids
    ):
        amendments = [{"kind": kind, "at": when(a_ver), "author": a_author, "author_name": staff.get(a_author, ""),
                       **json.loads(a_data)}
                      for kind, a_ver, a_author, a_data in conn.execute(
                          "SELECT kind, ver, author, data FROM amendments WHERE encounter_id = ? ORDER BY ver", (eid,))]
        encounters.append({"id": eid, "at": when(ver), "author": author, "author_name": staff.get(author, ""),
                           **json.loads(data), "amendments": amendments,
                           "entered_in_error": any(a["kind"] == "entered_in_error" for a in amendments)})
    return encounters


def patient_record(conn, patient_id: str) -> dict[str, Any] | None:
    """Everything the chart shows about one patient, with everything recorded under the records
    merged into it: their encounters, follow-ups, referrals and conflicts (each naming its
    `patient_id`), and their demographics and allergies under `merged`. Nothing is copied or
    rewritten by a merge; the reads follow `merged_into`."""
    record = _row(conn, "patient", patient_id)
    if record is None:
        return None
    record["registered"], record["updated"] = when(record.pop("created")), when(record["updated"])
    staff = staff_names(conn)
    ids = [patient_id, *merged_here(conn, patient_id)]
    disputes = {pid: conflicts(conn, entity_id=pid, staff=staff) for pid in ids}  # read once, used twice
    merged = []
    for other_id in ids[1:]:
        other = _row(conn, "patient", other_id) or {"id": other_id}
        other["registered"], other["merged_at"] = when(other.pop("created")), when(other.pop("updated"))
        other["disputed"] = _disputed(disputes[other_id])
        merged.append(other)
    record["merged"] = merged
    if record.get("merged_into"):  # the record it went into, by name: staff do not read ids
        record["merged_into_name"] = full_name(patient_fields(conn, survivor(conn, patient_id)) or {})
    marks = ",".join("?" * len(ids))
    record["encounters"] = _encounters(conn, ids, staff)
    record["followups"] = [dict(zip(("id", "patient_id", "encounter_id", "due", "reason", "status", "referral_id"), r))
                           for r in conn.execute(
        "SELECT id, patient_id, encounter_id, due, reason, status, referral_id FROM followups "
        f"WHERE patient_id IN ({marks}) AND voided IS NOT 1 ORDER BY due", ids)]
    record["referrals"] = [dict(zip(REFERRAL_SUMMARY, r)) | {"to_name": facilities.name_of(r[3])}
                           for r in conn.execute(
        f"SELECT {', '.join(REFERRAL_SUMMARY)} FROM referrals "
        f"WHERE patient_id IN ({marks}) AND voided IS NOT 1 ORDER BY created", ids)]
    record["conflicts"] = [c for pid in ids for c in disputes[pid]]
    record["disputed"] = _disputed(disputes[patient_id])
    return record


REFERRAL_SUMMARY = ("id", "patient_id", "encounter_id", "to_facility", "reason", "urgency", "status", "kind", "number",
                    "expected_by")


def _disputed(found: list[dict[str, Any]]) -> dict[str, list[Any]]:
    # A safety field two edits disagree on shows no single value until a supervisor settles it:
    # every view (chart, CLI, letters, exports) reads this, not the field's last-writer value.
    return {c["field"]: [candidate["value"] for candidate in c["candidates"]] for c in found if c["needs_review"]}


def every_allergy(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The allergies of the record and of each record merged into it, in that order, each part
    {patient_id, allergies, disputed: the values two edits gave, or None}: what every view lists
    first, so an allergy recorded under a duplicate is never out of sight."""
    found = []
    for part in (record, *record.get("merged", ())):
        disputed = part.get("disputed", {}).get("allergies")
        if disputed is not None or part.get("allergies"):
            found.append({"patient_id": part["id"], "allergies": list(part.get("allergies") or []),
                          "disputed": disputed})
    return found


def open_patient(tx: Transaction, user: User, patient_id: str) -> dict[str, Any]:
    """A patient's whole record; the opening is audited in the transaction that reads it."""
    record = patient_record(tx, patient_id)
    if record is None:
        raise FieldkitError(f"no patient with id {patient_id}")
    tx.audit(user.id, "view patient", patient_id)
    return record


def staff_names(conn) -> dict[str, str]:
    """{user id: name} of everyone the journal has told this laptop of: staff read names, not ids."""
    return dict(conn.execute("SELECT id, name FROM users").fetchall())


def conflicts(conn, *, entity: str = "patient", entity_id: str | None = None, review_only: bool = False,
              include_resolved: bool = False, staff: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Conflicts of one kind of record (a patient's fields, a referral's events, an enrolment's
    closing), each side with its author's name (`staff`: staff_names, when the caller holds it).
    `patient_id` names the record disputed, whatever its kind."""
    sql = ("SELECT c.id, c.entity_id, c.field, c.safety, c.candidates, r.reason, r.author "
           "FROM conflicts c LEFT JOIN resolutions r ON r.conflict_id = c.id WHERE c.entity = ?")
    params: list[Any] = [entity]
    if entity_id:
        sql += " AND c.entity_id = ?"
        params.append(entity_id)
    if review_only:
        sql += " AND c.safety = 1"
    if not include_resolved:
        sql += " AND r.conflict_id IS NULL"
    staff = staff_names(conn) if staff is None else staff
    return [{"id": cid, "patient_id": pid, "field": name, "needs_review": bool(safety),
             "candidates": [{**c, "author_name": staff.get(c.get("author"), "")} for c in json.loads(candidates)],
             "resolved": reason is not None,
             "resolution": {"reason": reason, "by": author} if reason is not None else None}
            for cid, pid, name, safety, candidates, reason, author in conn.execute(sql + " ORDER BY c.id", params)]


def due_followups(conn, until: str, *, limit: int = 50) -> list[dict[str, Any]]:
    return [dict(zip(("id", "patient_id", "due", "reason"), r)) for r in conn.execute(
        "SELECT id, patient_id, due, reason FROM followups WHERE status = 'open' AND voided IS NOT 1 "
        "AND due <= ? ORDER BY due LIMIT ?", (until, limit))]


TO_SEND_SQL = f"status IN ({', '.join(repr(status) for status in TO_SEND)}) AND voided IS NOT 1"


def pending_referrals(conn, *, limit: int = 50) -> list[dict[str, Any]]:
    """Referrals still to send, the most urgent first, each with its destination's name."""
    return [dict(zip(("id", "patient_id", "to_facility", "urgency", "reason"), r)) | {"to_name": facilities.name_of(r[2])}
            for r in conn.execute(
        f"SELECT id, patient_id, to_facility, urgency, reason FROM referrals WHERE {TO_SEND_SQL} "
        "ORDER BY urgency = 'emergency' DESC, urgency = 'urgent' DESC, created LIMIT ?",
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
