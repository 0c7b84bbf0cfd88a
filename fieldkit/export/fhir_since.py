"""What changed since an export: the rows whose resources an export `since` a version vector writes.

A version vector ({origin: seq}, store/heads.py) says exactly which journal entries a database
held: each origin's entries arrive in seq order, so "new since V" is every entry with seq > V[origin]
(every entry of an origin V does not name), whatever its HLC stamp. An entry synced in late from a
laptop that was away, stamped before the last export, is new all the same. The export reads the
database's vector in the same read transaction as its rows and hands it on for the next time.

Each new entry names the resources its entity makes (fhir.py):
  patient -> Patient, and the Patients it was merged into or out of (their `link`s), and, when it
    changes what a schedule reads (SCHEDULED: a birth date), that patient's ImmunizationRecommendation;
  encounter (its amendments too) -> Encounter and its Observations, Conditions, MedicationRequests;
  referral, referral_event -> ServiceRequest + Task;   enrolment -> EpisodeOfCare;
  lab_result -> Observation;   immunization -> Immunization;
  either of the last two -> the ImmunizationRecommendation of each patient it was recorded under.
A patient the database did not hold at V brings everything recorded of them: an encounter that
reached the database before its patient was left out then (no Patient to point at) and is due now,
as is the link of a record merged into them before they arrived.

Entries held back from the fold (store/holdback.py) are not new: their rows do not show them. One
held at V and released since, or folded at V and held since (a revocation that arrived late), has
changed what its entity shows, so its entity counts as changed. What a row no longer holds is not
taken back from a receiver: FHIR has no "removed since" in a collection or a transaction. Nor does
a recommendation that only the calendar moved (a dose due becomes overdue) count as changed: it is
derived as of the day of the export, and a whole export carries today's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from fieldkit.errors import FieldkitError
from fieldkit.i18n import _
from fieldkit.store.fold import NOT_HELD
from fieldkit.store.heads import heads
from fieldkit.store.holdback import SETTING, SETTING_SQL, Cutoffs
from fieldkit.store.journal import Entry

# Which folded table each entity's entries change (entities not exported change nothing).
TABLES = {"patient": "patients", "encounter": "encounters", "referral": "referrals", "referral_event": "referrals",
          "enrolment": "enrolments", "lab_result": "lab_results", "immunization": "immunizations"}
RECOMMENDED = "recommendations"  # the patients whose recommendations are derived again
_MOVABLE = ("lab_result", "immunization")  # records whose patient_id a correction may change

# The patient's fields a schedule reads: their age, and whether the record stands on its own.
SCHEDULED = ("birth_date", "birth_date_estimated", "voided", "merged_into")
# An entry as this module reads it: where it is, what it writes, and the fields that point elsewhere.
_COLUMNS = ("origin, seq, author, entity, entity_id, op, json_type(data, '$.fields.merged_into'), "
            "json_extract(data, '$.fields.patient_id'), "
            + "(" + " OR ".join(f"json_type(data, '$.fields.{name}') IS NOT NULL" for name in SCHEDULED) + ")")


@dataclass
class Changed:
    """Ids of the rows of each table (TABLES' values, and RECOMMENDED: patient ids) to write again,
    and the patients new since the vector."""

    ids: dict[str, set[str]] = field(default_factory=dict)
    new_patients: set[str] = field(default_factory=set)

    def of(self, table: str) -> set[str]:
        return self.ids.setdefault(table, set())


def checked(since: Any) -> dict[str, int]:
    """A version vector as given (a file, a query): {origin: seq >= 0}, or FieldkitError."""
    if not isinstance(since, Mapping) or not all(
            isinstance(origin, str) and type(seq) is int and seq >= 0 for origin, seq in since.items()):
        raise FieldkitError(_("not a version vector (a JSON object of laptop ids and sequence numbers)"))
    return dict(since)


def read_vector(data: bytes | str) -> dict[str, int]:
    """A version vector saved as JSON (what `next_since` gave the export before)."""
    try:
        found = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise FieldkitError(_("not a version vector (a JSON object of laptop ids and sequence numbers)")) from None
    return checked(found)


def changed_since(conn: Any, since: Mapping[str, int]) -> Changed:
    """The rows whose resources changed after the database held `since` (see the module's note)."""
    changed = Changed()
    moved: set[tuple[str, str]] = set()
    merged: set[str] = set()
    setting = False

    def take(rows: Iterable[tuple]) -> None:  # one entry at a time: a long absence is many entries
        nonlocal setting
        for _origin, _seq, _author, entity, entity_id, op, merged_type, patient_id, scheduled in rows:
            setting = setting or (entity, op) in SETTING
            table = TABLES.get(entity)
            if table is None:
                continue
            changed.of(table).add(entity_id)
            if entity == "patient":
                if scheduled:
                    changed.of(RECOMMENDED).add(entity_id)
                if merged_type is not None:
                    merged.add(entity_id)
            elif entity in _MOVABLE and op != "create" and patient_id is not None:
                moved.add((entity, entity_id))

    for origin, top in heads(conn):
        if top > since.get(origin, 0):
            take(conn.execute(f"SELECT {_COLUMNS} FROM journal WHERE origin = ? AND seq > ? AND {NOT_HELD}",
                              (origin, since.get(origin, 0))))
    held_now = set(conn.execute("SELECT origin, seq FROM held").fetchall())

    def held_still(origin: str, seq: int, author: str) -> bool:
        return (origin, seq) in held_now

    # Cut-offs that no revocation or release has moved since hold at `since` what they hold now.
    then = _cutoffs_then(conn, since) if setting else None
    held_then: Callable[[str, int, str], bool] = held_still if then is None else then.holds
    if then is not None:
        take(_flipped(conn, since, then, held_now))
    # A merge (or its undoing) changes the links of every record it named, then and before.
    changed.of("patients").update(_ever(conn, "patient", merged, "merged_into"))
    for entity in _MOVABLE:  # a record moved to another patient leaves the first one's schedule too
        changed.of(RECOMMENDED).update(_ever(conn, entity, {i for e, i in moved if e == entity}, "patient_id"))
        changed.of(RECOMMENDED).update(_current_patients(conn, TABLES[entity], changed.of(TABLES[entity])))
    changed.new_patients = _new_patients(conn, since, changed.of("patients"), held_then)
    if changed.new_patients:  # a record merged into one that had not arrived gains its link now
        changed.of("patients").update(pid for (pid,) in conn.execute(
            "SELECT id FROM patients WHERE merged_into IN (SELECT value FROM json_each(?))",
            (_json(changed.new_patients),)))
    return changed


def _json(values: Iterable[str]) -> str:
    return orjson.dumps(sorted(values)).decode()


def _ever(conn: Any, entity: str, ids: set[str], name: str) -> set[str]:
    """Every value `name` was ever given in the journal's writes to these records (held or not: an
    entry held since it was exported took its value away)."""
    if not ids:
        return set()
    return {value for (value,) in conn.execute(
        f"SELECT json_extract(data, '$.fields.{name}') FROM journal WHERE entity_id IN (SELECT value FROM json_each(?)) "
        f"AND entity = ? AND json_type(data, '$.fields.{name}') = 'text'", (_json(ids), entity))}


def _current_patients(conn: Any, table: str, ids: set[str]) -> set[str]:
    if not ids:
        return set()
    return {pid for (pid,) in conn.execute(
        f"SELECT patient_id FROM {table} WHERE id IN (SELECT value FROM json_each(?)) AND patient_id IS NOT NULL",
        (_json(ids),))}


def _within(since: Mapping[str, int], origin: str, seq: int) -> bool:
    return seq <= since.get(origin, 0)


def _cutoffs_then(conn: Any, since: Mapping[str, int]) -> Cutoffs:
    """The cut-offs in force when the database held `since`."""
    # Every entry that sets a cut-off names a subject of the cut-offs in force now: found through
    # the entity index, not by reading the whole journal.
    setting = [Entry(*row) for row in conn.execute(
        f"SELECT * FROM journal WHERE entity_id IN (SELECT subject FROM cutoffs) AND ({SETTING_SQL})")]
    return Cutoffs.of(entry for entry in setting if _within(since, entry.origin, entry.seq))


def _flipped(conn: Any, since: Mapping[str, int], then: Cutoffs, now: set[tuple[str, int]]) -> list[tuple]:
    """Entries the database held at `since` whose held state has changed since: released, or held
    by a revocation that arrived later."""
    candidates: list[tuple] = []
    for origin, seq in sorted(now):
        if _within(since, origin, seq):
            candidates += conn.execute(f"SELECT {_COLUMNS} FROM journal WHERE origin = ? AND seq = ?", (origin, seq))
    for device, cutoff in then.devices.items():
        candidates += conn.execute(f"SELECT {_COLUMNS} FROM journal WHERE origin = ? AND seq > ? AND seq <= ?",
                                   (device, cutoff, since.get(device, 0)))
    for user in then.users:
        candidates += conn.execute(f"SELECT {_COLUMNS} FROM journal WHERE author = ?", (user,))
    return [row for row in dict.fromkeys(candidates)
            if _within(since, row[0], row[1]) and then.holds(row[0], row[1], row[2]) != ((row[0], row[1]) in now)]


def _new_patients(conn: Any, since: Mapping[str, int], patients: set[str],
                  held_then: Callable[[str, int, str], bool]) -> set[str]:
    """Of these patients, those no entry of which the database showed at `since`."""
    shown = {entity_id for entity_id, origin, seq, author in conn.execute(
        "SELECT entity_id, origin, seq, author FROM journal WHERE entity_id IN (SELECT value FROM json_each(?)) "
        "AND entity = 'patient'", (_json(patients),))
        if _within(since, origin, seq) and not held_then(origin, seq, author)} if patients else set()
    return patients - shown
