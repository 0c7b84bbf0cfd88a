"""Tables of the clinic database, created or migrated on open (PRAGMA user_version).

The journal and `meta` are the only tables that are not derived: every other table is a fold of
the journal and `fieldkit db rebuild` may empty and refill it. `audit` is local and append-only.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

from fieldkit.store.sql import immediate

# Fold output, in the order the state hash reads them; each with the key that orders its rows.
FOLDED = {
    "patients": "id",
    "search_keys": "key, patient_id",
    "encounters": "id",
    "amendments": "id",
    "referrals": "id",
    "referral_events": "id",
    "followups": "id",
    "enrolments": "id",
    "checkins": "id",
    "checkin_reviews": "id",
    "screening_rounds": "id",
    "lab_imports": "id",
    "lab_results": "id",
    "quarantined_rows": "id",
    "vaccine_lots": "id",
    "immunizations": "id",
    "users": "id",
    "conflicts": "id",
    "resolutions": "conflict_id, ver",
    "revocations": "device_id",
    "cutoffs": "kind, subject, origin",
    "held": "origin, seq",
}


MIGRATIONS: list[str] = [
    # 1: the journal, its fold and the audit log
    """
CREATE TABLE meta (key TEXT PRIMARY KEY, value ANY) STRICT;
CREATE TABLE journal (
    origin TEXT NOT NULL, seq INTEGER NOT NULL, hlc INTEGER NOT NULL,
    entity TEXT NOT NULL, entity_id TEXT NOT NULL, op TEXT NOT NULL, author TEXT NOT NULL,
    schema INTEGER NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (origin, seq)
) STRICT, WITHOUT ROWID;
CREATE INDEX journal_entity ON journal (entity_id);

CREATE TABLE search_keys (
    key TEXT NOT NULL, patient_id TEXT NOT NULL, PRIMARY KEY (key, patient_id)
) STRICT, WITHOUT ROWID;
-- Re-indexing a patient and checking a second query word both go from the patient to its keys.
CREATE INDEX search_keys_patient ON search_keys (patient_id, key);
CREATE TABLE encounters (
    id TEXT PRIMARY KEY, patient_id TEXT NOT NULL, ver TEXT NOT NULL, author TEXT NOT NULL,
    recorded INTEGER NOT NULL, kind TEXT NOT NULL, news2 INTEGER, news2_band TEXT, qsofa INTEGER,
    origin TEXT NOT NULL, seq INTEGER NOT NULL  -- the journal entry holding what was recorded
) STRICT;
CREATE INDEX encounters_patient ON encounters (patient_id, recorded);
CREATE INDEX encounters_recorded ON encounters (recorded);
CREATE TABLE amendments (
    id TEXT PRIMARY KEY, encounter_id TEXT NOT NULL, ver TEXT NOT NULL, author TEXT NOT NULL,
    kind TEXT NOT NULL, data TEXT NOT NULL
) STRICT;
CREATE INDEX amendments_encounter ON amendments (encounter_id);
CREATE TABLE conflicts (
    id TEXT PRIMARY KEY, entity TEXT NOT NULL, entity_id TEXT NOT NULL, field TEXT NOT NULL,
    base TEXT NOT NULL, safety INTEGER NOT NULL, candidates TEXT NOT NULL
) STRICT;
CREATE INDEX conflicts_entity ON conflicts (entity_id);
CREATE TABLE resolutions (
    conflict_id TEXT NOT NULL, ver TEXT NOT NULL, author TEXT NOT NULL, reason TEXT NOT NULL,
    PRIMARY KEY (conflict_id, ver)
) STRICT, WITHOUT ROWID;

-- One column per field of each mutable entity (entities.py), then the versions of its first and
-- last writes. A field added later is a migration of its own: this text never changes.
CREATE TABLE patients (
    id TEXT PRIMARY KEY,
    given_name ANY, family_name ANY, other_names ANY, sex ANY, birth_date ANY, birth_date_estimated ANY,
    phone ANY, identifiers ANY, locality ANY, allergies ANY, merged_into ANY, voided ANY,
    created TEXT NOT NULL, updated TEXT NOT NULL
) STRICT;
CREATE TABLE referrals (
    id TEXT PRIMARY KEY,
    patient_id ANY, encounter_id ANY, to_facility ANY, reason ANY, urgency ANY, status ANY, voided ANY,
    created TEXT NOT NULL, updated TEXT NOT NULL
) STRICT;
CREATE TABLE followups (
    id TEXT PRIMARY KEY,
    patient_id ANY, encounter_id ANY, due ANY, reason ANY, status ANY, voided ANY,
    created TEXT NOT NULL, updated TEXT NOT NULL
) STRICT;
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name ANY, role ANY, active ANY,
    created TEXT NOT NULL, updated TEXT NOT NULL
) STRICT;
CREATE INDEX referrals_status ON referrals (status, patient_id);
CREATE INDEX followups_due ON followups (status, due);

-- Unsaved forms (an encounter being typed), so a crash or a lock loses nothing. Local: never
-- journalled, never synced, and encrypted like everything else in this file.
CREATE TABLE drafts (key TEXT PRIMARY KEY, data TEXT NOT NULL, updated TEXT NOT NULL) STRICT;

CREATE TABLE audit (
    seq INTEGER PRIMARY KEY, at TEXT NOT NULL, user TEXT NOT NULL, action TEXT NOT NULL,
    entity_id TEXT NOT NULL, detail TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL
) STRICT;
CREATE INDEX audit_entity ON audit (entity_id);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
""",
    # 2: the home screen's "recent patients" read the whole table and sorted it (70 ms at 50k).
    "CREATE INDEX patients_updated ON patients (updated)",
    # 3: sync. What proves received entries (certificates of their origins, signed checkpoints of
    # their chains) is truth kept beside the journal, so a relay can hand the proof on; revocations
    # are journal entries, folded; `peers` is this laptop's own history of whom it synced with.
    """
CREATE TABLE devices (id TEXT PRIMARY KEY, certificate BLOB NOT NULL) STRICT;
CREATE TABLE checkpoints (
    origin TEXT NOT NULL, seq INTEGER NOT NULL, hash TEXT NOT NULL, signature BLOB NOT NULL,
    PRIMARY KEY (origin, seq)
) STRICT, WITHOUT ROWID;
CREATE TABLE revocations (
    device_id TEXT PRIMARY KEY, ver TEXT NOT NULL, author TEXT NOT NULL, data TEXT NOT NULL
) STRICT;
CREATE TABLE peers (
    device_id TEXT PRIMARY KEY, address TEXT NOT NULL, vector TEXT NOT NULL, last_sync TEXT,
    sent INTEGER NOT NULL, received INTEGER NOT NULL, error TEXT NOT NULL
) STRICT;
""",
    # 4: the journal as a rowid table. WITHOUT ROWID keeps rows in index pages, where a row past
    # about 1 KB spills onto an overflow page of its own: half of all encounters did, so the
    # journal took 1.8 KB of disk per entry and a first sync wrote (and encrypted) twice the pages.
    """
CREATE TABLE journal_rows (
    origin TEXT NOT NULL, seq INTEGER NOT NULL, hlc INTEGER NOT NULL,
    entity TEXT NOT NULL, entity_id TEXT NOT NULL, op TEXT NOT NULL, author TEXT NOT NULL,
    schema INTEGER NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL, data TEXT NOT NULL,
    UNIQUE (origin, seq)
) STRICT;
INSERT INTO journal_rows SELECT * FROM journal ORDER BY origin, seq;
DROP TABLE journal;
ALTER TABLE journal_rows RENAME TO journal;
CREATE INDEX journal_entity ON journal (entity_id);
""",
    # 5: entries held back from the fold (store/holdback.py): the cut-offs that revocations and
    # releases set, and which journalled entries lie beyond them.
    """
CREATE TABLE cutoffs (
    kind TEXT NOT NULL, subject TEXT NOT NULL, origin TEXT NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (kind, subject, origin)
) STRICT, WITHOUT ROWID;
CREATE TABLE held (origin TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (origin, seq)) STRICT, WITHOUT ROWID;
""",
    # 6: a chart reads what was recorded under the records merged into it; without this, a scan of every patient.
    "CREATE INDEX patients_merged ON patients (merged_into) WHERE merged_into IS NOT NULL",
    # 7: the order a patient's name is said in (records/names.py). A laptop without this column
    # folds such entries all the same and shows the name given-first: display only, nothing lost.
    "ALTER TABLE patients ADD COLUMN name_order ANY",
    # 8: referrals that close the loop, programme enrolments and their check-ins. A referral's
    # status is now derived from its events (store/lifecycle.py), never written.
    """
ALTER TABLE referrals ADD COLUMN kind ANY;
ALTER TABLE referrals ADD COLUMN number ANY;
ALTER TABLE referrals ADD COLUMN from_facility ANY;
ALTER TABLE referrals ADD COLUMN to_service ANY;
ALTER TABLE referrals ADD COLUMN reason_code ANY;
ALTER TABLE referrals ADD COLUMN expected_by ANY;
ALTER TABLE referrals ADD COLUMN needs_approval ANY;
ALTER TABLE referrals ADD COLUMN snapshot ANY;
ALTER TABLE referrals ADD COLUMN escalated_from ANY;
ALTER TABLE referrals ADD COLUMN enrolment_id ANY;
ALTER TABLE referrals ADD COLUMN follows ANY;
CREATE INDEX referrals_to ON referrals (to_facility, status);
CREATE INDEX referrals_escalated ON referrals (escalated_from) WHERE escalated_from IS NOT NULL;
CREATE TABLE referral_events (
    id TEXT PRIMARY KEY, referral_id TEXT NOT NULL, ver TEXT NOT NULL, author TEXT NOT NULL,
    type TEXT NOT NULL, data TEXT NOT NULL, applied INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX referral_events_referral ON referral_events (referral_id, ver);
ALTER TABLE followups ADD COLUMN referral_id ANY;
CREATE TABLE enrolments (
    id TEXT PRIMARY KEY,
    patient_id ANY, programme ANY, programme_version ANY, attributes ANY, status ANY, outcome ANY,
    outcome_date ANY, enrolled_on ANY, team ANY, voided ANY, stays ANY,
    created TEXT NOT NULL, updated TEXT NOT NULL
) STRICT;
CREATE INDEX enrolments_programme ON enrolments (programme, status);
CREATE INDEX enrolments_patient ON enrolments (patient_id);
CREATE TABLE checkins (
    id TEXT PRIMARY KEY, enrolment_id TEXT NOT NULL, patient_id TEXT NOT NULL, day TEXT NOT NULL,
    ver TEXT NOT NULL, author TEXT NOT NULL, alert TEXT NOT NULL, origin TEXT NOT NULL, seq INTEGER NOT NULL
) STRICT;
CREATE INDEX checkins_enrolment ON checkins (enrolment_id, day);
CREATE INDEX checkins_alert ON checkins (alert) WHERE alert = 'red';
CREATE TABLE checkin_reviews (
    id TEXT PRIMARY KEY, checkin_id TEXT NOT NULL, ver TEXT NOT NULL, author TEXT NOT NULL, data TEXT NOT NULL
) STRICT;
CREATE INDEX checkin_reviews_checkin ON checkin_reviews (checkin_id);
""",
    # 9: lab results (imported from a lab's file or typed), screening rounds, and immunizations.
    # Every one a mutable entity: a correction is a new write, the old value stays in the journal.
    """
CREATE TABLE screening_rounds (
    id TEXT PRIMARY KEY,
    name ANY, programme ANY, starts ANY, ends ANY, tests ANY, population ANY, voided ANY,
    created TEXT NOT NULL, updated TEXT NOT NULL
) STRICT;
CREATE TABLE lab_imports (
    id TEXT PRIMARY KEY,
    file_sha256 ANY, file_name ANY, template ANY, template_version ANY, lab ANY, round_id ANY, status ANY,
    counts ANY, voided ANY,
    created TEXT NOT NULL, updated TEXT NOT NULL
) STRICT;
CREATE INDEX lab_imports_file ON lab_imports (file_sha256);
CREATE TABLE lab_results (
    id TEXT PRIMARY KEY,
    patient_id ANY, test ANY, loinc ANY, value ANY, unit ANY, coded ANY, text ANY, range_low ANY, range_high ANY,
    range_text ANY, interpretation ANY, status ANY, collected ANY, issued ANY, lab ANY, sample_id ANY,
    import_id ANY, import_row ANY, round_id ANY, note ANY, voided ANY, comparator ANY,
    created TEXT NOT NULL, updated TEXT NOT NULL
) STRICT;
CREATE INDEX lab_results_patient ON lab_results (patient_id, collected);
CREATE INDEX lab_results_sample ON lab_results (sample_id, test);
CREATE INDEX lab_results_round ON lab_results (round_id) WHERE round_id IS NOT NULL;
CREATE TABLE quarantined_rows (
    id TEXT PRIMARY KEY,
    import_id ANY, import_row ANY, data ANY, problem ANY, status ANY, patient_id ANY, voided ANY,
    created TEXT NOT NULL, updated TEXT NOT NULL
) STRICT;
CREATE INDEX quarantined_rows_import ON quarantined_rows (import_id, status);
CREATE TABLE vaccine_lots (
    id TEXT PRIMARY KEY,
    vaccine ANY, lot ANY, expiry ANY, manufacturer ANY, voided ANY,
    created TEXT NOT NULL, updated TEXT NOT NULL
) STRICT;
CREATE TABLE immunizations (
    id TEXT PRIMARY KEY,
    patient_id ANY, vaccine ANY, series ANY, dose_number ANY, status ANY, reason ANY, primary_source ANY,
    occurred ANY, lot ANY, lot_expiry ANY, manufacturer ANY, site ANY, route ANY, dose_quantity ANY, dose_unit ANY,
    given_by ANY, location ANY, consent_by ANY, early_reason ANY, note ANY,
    created TEXT NOT NULL, updated TEXT NOT NULL
) STRICT;
CREATE INDEX immunizations_patient ON immunizations (patient_id, vaccine, occurred);
""",
]


def statements(script: str) -> Iterator[str]:
    """A script's statements one by one; a trigger's body, semicolons and all, stays whole."""
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                yield pending
            pending = ""


def migrate(conn) -> None:
    """Bring the schema up to date in one transaction, whichever process opens the file first.

    The version is read again once the write lock is held: two processes opening a new file at
    once both see version 0, and only the first may run the scripts. (`executescript` would
    commit the transaction first, so statements run one by one.)"""
    if conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS):
        return
    with immediate(conn):
        current = conn.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(MIGRATIONS[current:], start=current + 1):
            for statement in statements(script):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
