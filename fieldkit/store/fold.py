"""The fold: tables as a deterministic function of the journal (DESIGN decisions 1 and 2).

Every rule here is order-free over entries of different origins: the same set of entries, applied
in any order that keeps each origin's sequence, leaves the same rows. Mutable entities project the
highest version of each field over every write of the entity in the journal; a write records the
version its author saw (`base`), so two writes that saw the same version of a field and chose
different values are concurrent and leave a conflict row holding both, whatever order they
arrive in. Folding an entry may see writes journalled after it (a batch, a rebuild): it then
projects the final state at once, which is the state it would reach anyway.

Content already in the journal is not copied: an encounter row points at its entry, and the
writes of an entity are read back from the journal, so the fold costs one row per fact. A
patient's search keys are written once per transaction, after its last write there.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from fieldkit.namekeys import index_keys
from fieldkit.store import lifecycle
from fieldkit.store.entities import MUTABLE, PATIENT, REFERRAL, SEARCH_FIELDS, MutableEntity
from fieldkit.store.hlc import millis
from fieldkit.store.holdback import SETTING, SETTING_SQL, Cutoffs
from fieldkit.store.journal import SCHEMA_VERSION, Entry, canonical, parse, version
from fieldkit.store.schema import FOLDED

# Leaves out of a query on `journal` the entries held back from the fold.
NOT_HELD = "NOT EXISTS (SELECT 1 FROM held WHERE held.origin = journal.origin AND held.seq = journal.seq)"
REBUILD_CHUNK = 10_000  # entries folded per pass of a rebuild: bounds the search keys held at once


# Patients whose search keys a transaction must write: id -> (their fields now, whether they had none)
Reindex = dict[str, tuple[dict[str, Any], bool]]


def apply(conn, entries: Iterable[Entry]) -> None:
    """Fold entries that have just been added to the journal, in order, in the caller's transaction.

    Entries beyond a revocation's cut-off are held back (store/holdback.py). A revocation or release
    that changes whether entries folded earlier are held, as when a laptop learns of a revocation
    after relaying the revoked laptop's later entries, folds the whole journal again: rare, and the
    one way to take a fact back out of every table it reached."""
    entries = list(entries)
    cutoffs = Cutoffs.from_rows(conn.execute("SELECT kind, subject, origin, seq FROM cutoffs"))
    if cutoffs.take(entries):
        _keep_cutoffs(conn, cutoffs)
        if _held_elsewhere_changes(conn, cutoffs, {(e.origin, e.seq) for e in entries}):
            rebuild(conn)
            return
    held = {(e.origin, e.seq) for e in entries if cutoffs.holds(e.origin, e.seq, e.author)}
    # Marked before anything folds: an entity's writes are read back from the journal, held ones left out.
    conn.executemany("INSERT OR IGNORE INTO held VALUES (?, ?)", held)
    reindex: Reindex = {}
    for entry in entries:
        if (entry.origin, entry.seq) not in held:
            _apply(conn, entry, reindex)
    _index_patients(conn, reindex)


def _keep_cutoffs(conn, cutoffs: Cutoffs) -> None:
    conn.execute("DELETE FROM cutoffs")
    conn.executemany("INSERT INTO cutoffs VALUES (?, ?, ?, ?)", cutoffs.rows())


def _held_elsewhere_changes(conn, cutoffs: Cutoffs, batch: set[tuple[str, int]]) -> bool:
    """Would the cut-offs now hold, or release, an entry journalled before this batch?"""
    candidates = []
    for device, seq in cutoffs.devices.items():
        candidates += conn.execute("SELECT origin, seq, author FROM journal WHERE origin = ? AND seq > ?", (device, seq))
    for user in cutoffs.users:
        candidates += conn.execute("SELECT origin, seq, author FROM journal WHERE author = ?", (user,))
    should = {(origin, seq) for origin, seq, author in candidates if cutoffs.holds(origin, seq, author)}
    return should - batch != set(conn.execute("SELECT origin, seq FROM held")) - batch


def _apply(conn, entry: Entry, reindex: Reindex) -> None:
    if entry.schema > SCHEMA_VERSION:
        return  # kept and relayed; a fieldkit that knows this schema folds it on `db rebuild`
    if (entry.entity, entry.op) in SETTING:
        if entry.entity == "device" and entry.op == "revoke":
            # The first revocation stands; a second one of the same laptop changes nothing it means.
            conn.execute(
                """INSERT INTO revocations VALUES (?, ?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET
                   ver = excluded.ver, author = excluded.author, data = excluded.data
                   WHERE excluded.ver < revocations.ver""",
                (entry.entity_id, entry.version, entry.author, entry.data),
            )
        return  # cut-offs were taken by `apply`
    spec = MUTABLE.get(entry.entity)
    if spec is not None:
        _fold_write(conn, entry, spec, entry.payload, reindex)
        if spec is REFERRAL:
            lifecycle.derive(conn, entry.entity_id)
    elif entry.entity == "encounter":
        _fold_encounter(conn, entry, entry.payload)
    elif entry.entity == "referral_event":
        conn.execute("INSERT OR IGNORE INTO referral_events (id, referral_id, ver, author, type, data) "
                     "VALUES (?, ?, ?, ?, ?, ?)",
                     (f"{entry.origin}:{entry.seq}", entry.entity_id, entry.version, entry.author, entry.op, entry.data))
        lifecycle.derive(conn, entry.entity_id)
    elif entry.entity == "checkin":
        _fold_checkin(conn, entry, entry.payload)


def entity_writes(conn, entity: str, entity_id: str) -> list[tuple[str, str, dict[str, Any], dict[str, str]]]:
    """(version, author, fields, base) of every foldable write of an entity, oldest first."""
    rows = conn.execute("SELECT hlc, origin, author, data FROM journal WHERE entity_id = ? AND entity = ? "
                        f"AND schema <= ? AND {NOT_HELD}", (entity_id, entity, SCHEMA_VERSION)).fetchall()
    rows.sort()
    writes = []
    for hlc, origin, author, data in rows:
        payload = parse(data)
        writes.append((version(hlc, origin), author, payload.get("fields", {}), payload.get("base", {})))
    return writes


def _fold_write(conn, entry: Entry, spec: MutableEntity, payload: dict[str, Any], reindex: Reindex) -> None:
    fields: dict[str, Any] = payload.get("fields", {})
    base: dict[str, str] = payload.get("base", {})
    writes = entity_writes(conn, entry.entity, entry.entity_id)
    values: dict[str, Any] = {}
    for _, _, w_fields, _ in writes:  # ascending versions: the last writer of each field wins
        values.update(w_fields)
    row: list[Any] = [entry.entity_id]
    for name in spec.fields:
        value = values.get(name)
        row.append(canonical(value) if name in spec.json_fields and value is not None else value)
    row += [writes[0][0], writes[-1][0]]
    conn.execute(spec.upsert, row)

    if len(writes) > 1:
        for name in fields:
            _record_conflict(conn, entry, spec, name, base.get(name, ""), writes)
    for conflict_id in payload.get("resolves", ()):
        conn.execute(
            "INSERT OR IGNORE INTO resolutions VALUES (?, ?, ?, ?)",
            (conflict_id, entry.version, entry.author, payload.get("reason", "")),
        )
    if spec is PATIENT and SEARCH_FIELDS.intersection(fields):
        had_none = reindex[entry.entity_id][1] if entry.entity_id in reindex else len(writes) == 1
        reindex[entry.entity_id] = values, had_none


def _record_conflict(conn, entry: Entry, spec: MutableEntity, name: str, base: str, writes) -> None:
    siblings = [(ver, author, w_fields[name]) for ver, author, w_fields, w_base in writes
                if name in w_fields and w_base.get(name, "") == base]
    if len({canonical(value) for _, _, value in siblings}) < 2:
        return  # alone, or concurrent writers who agreed: nothing to review
    conflict_id = conflict_key(entry.entity_id, name, base)
    candidates = [{"ver": ver, "author": author, "value": value} for ver, author, value in siblings]
    conn.execute(
        "INSERT OR REPLACE INTO conflicts VALUES (?, ?, ?, ?, ?, ?, ?)",
        (conflict_id, entry.entity, entry.entity_id, name, base, int(name in spec.safety_fields),
         canonical(candidates)),
    )


def conflict_key(entity_id: str, field: str, base: str) -> str:
    return hashlib.sha256(f"{entity_id}\n{field}\n{base}".encode()).hexdigest()[:32]


def _index_patients(conn, reindex: Reindex) -> None:
    conn.executemany("DELETE FROM search_keys WHERE patient_id = ?",
                     [(patient_id,) for patient_id, (_, had_none) in reindex.items() if not had_none])
    rows = []
    for patient_id, (values, _) in reindex.items():
        names = [values.get(n) or "" for n in ("given_name", "other_names", "family_name")]
        keys = index_keys(names, (values.get("identifiers") or {}).values(), [values.get("phone") or ""])
        rows += [(key, patient_id) for key in keys]
    # In key order: the index's pages are then visited once each, left to right, not at random.
    rows.sort()
    conn.executemany("INSERT OR IGNORE INTO search_keys VALUES (?, ?)", rows)


def _fold_encounter(conn, entry: Entry, payload: dict[str, Any]) -> None:
    if entry.op == "create":
        scores = payload.get("scores", {})
        news2 = scores.get("news2") or {}
        # Encounter ids are random, so a clash means a broken device; keeping the lowest version
        # still makes every replica agree on which one it sees.
        conn.execute(
            """INSERT INTO encounters VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (id) DO UPDATE SET patient_id = excluded.patient_id, ver = excluded.ver,
                 author = excluded.author, recorded = excluded.recorded, kind = excluded.kind,
                 news2 = excluded.news2, news2_band = excluded.news2_band, qsofa = excluded.qsofa,
                 origin = excluded.origin, seq = excluded.seq
               WHERE excluded.ver < encounters.ver""",
            (entry.entity_id, payload.get("patient_id", ""), entry.version, entry.author, millis(entry.hlc),
             payload.get("kind", "visit"), news2.get("total"), news2.get("band"),
             (scores.get("qsofa") or {}).get("total"), entry.origin, entry.seq),
        )
    else:  # amendments and "entered in error" are new facts about an encounter, never edits
        conn.execute(
            "INSERT OR IGNORE INTO amendments VALUES (?, ?, ?, ?, ?, ?)",
            (f"{entry.origin}:{entry.seq}", entry.entity_id, entry.version, entry.author, entry.op, entry.data),
        )


def _fold_checkin(conn, entry: Entry, payload: dict[str, Any]) -> None:
    if entry.op == "create":  # random ids: as with encounters, the lowest version of a clash stands
        conn.execute(
            """INSERT INTO checkins VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET
                 enrolment_id = excluded.enrolment_id, patient_id = excluded.patient_id, day = excluded.day,
                 ver = excluded.ver, author = excluded.author, alert = excluded.alert, origin = excluded.origin,
                 seq = excluded.seq
               WHERE excluded.ver < checkins.ver""",
            (entry.entity_id, str(payload.get("enrolment_id", "")), str(payload.get("patient_id", "")),
             str(payload.get("day", "")), entry.version, entry.author,
             str((payload.get("alert") or {}).get("level", "none")), entry.origin, entry.seq))
    else:  # a doctor's review of an escalation: a fact of its own, like an amendment
        conn.execute("INSERT OR IGNORE INTO checkin_reviews VALUES (?, ?, ?, ?, ?)",
                     (f"{entry.origin}:{entry.seq}", entry.entity_id, entry.version, entry.author, entry.data))


def field_versions(conn, entity_id: str) -> dict[str, str]:
    """The version each field of an entity currently shows: what an edit records as its base."""
    versions: dict[str, str] = {}
    entity = conn.execute("SELECT entity FROM journal WHERE entity_id = ? LIMIT 1", (entity_id,)).fetchone()
    for ver, _, fields, _ in entity_writes(conn, entity[0], entity_id) if entity else ():
        versions.update(dict.fromkeys(fields, ver))
    return versions


def state_hash(conn) -> str:
    """SHA-256 over every folded row in key order: equal on replicas that folded the same entries.

    An empty table adds nothing, so a release that adds tables leaves the hash of a clinic that
    has nothing in them unchanged: an upgraded laptop still agrees with itself before the upgrade."""
    digest = hashlib.sha256()
    for table, key in FOLDED.items():
        for n, row in enumerate(conn.execute(f"SELECT * FROM {table} ORDER BY {key}")):
            if n == 0:
                digest.update(f"\n#{table}\n".encode())
            digest.update(canonical(list(row)).encode())
            digest.update(b"\n")
    return digest.hexdigest()


def rebuild(conn) -> int:
    """Empty every folded table and fold the whole journal again, inside the caller's
    transaction; returns entries folded."""
    for table in FOLDED:
        conn.execute(f"DELETE FROM {table}")
    # Every cut-off first, so no chunk finds one that changes what an earlier chunk folded.
    _keep_cutoffs(conn, Cutoffs.of(Entry(*row) for row in conn.execute(f"SELECT * FROM journal WHERE {SETTING_SQL}")))
    entries = conn.execute("SELECT * FROM journal ORDER BY origin, seq")
    count = 0
    while chunk := [Entry(*row) for row in entries.fetchmany(REBUILD_CHUNK)]:
        apply(conn, chunk)
        count += len(chunk)
    return count
