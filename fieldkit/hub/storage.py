"""What the hub keeps: the journal entries laptops upload, with what proves them, and who called.

Two backends behind one class: SQLite (one file, one writer; what a pilot hub needs) and
PostgreSQL (`postgresql://…`), which several hub processes may share. Either way an upload is
checked against the chains already held and stored in one transaction, so it lands whole or not at
all, and re-sending it stores nothing twice. On PostgreSQL, processes that receive entries of the
same origin at once take turns on an advisory lock per origin: the second sees the first's
entries as held, never as a gap or a duplicate.

The hub stores entries verbatim and folds nothing: it is a relay that never forgets. Entries a
revoked laptop or user wrote beyond the revocation's cut-off are stored and relayed too (so none
is lost), and counted apart: every laptop holds them back from its fold (store/holdback.py).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlcipher3

from fieldkit.crashpoints import crashpoint
from fieldkit.errors import FieldkitError
from fieldkit.store.connection import use_key
from fieldkit.store.hlc import millis
from fieldkit.store.holdback import SETTING_SQL, Cutoffs
from fieldkit.store.journal import COLUMNS, Checkpoint, Entry, canonical, count_held, parse, plan_chain, role_grants
from fieldkit.store.outgoing import Outgoing, select
from fieldkit.store.sql import immediate
from fieldkit.store.transaction import Ingested

# One script per schema version, for both backends: the types here mean the same in each.
MIGRATIONS = [
    """
CREATE TABLE hub_journal (
    origin TEXT NOT NULL, seq BIGINT NOT NULL, hlc BIGINT NOT NULL, entity TEXT NOT NULL,
    entity_id TEXT NOT NULL, op TEXT NOT NULL, author TEXT NOT NULL, schema INTEGER NOT NULL,
    prev TEXT NOT NULL, hash TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (origin, seq)
);
-- Verifying a batch reads the role history of its authors.
CREATE INDEX hub_journal_users ON hub_journal (entity_id) WHERE entity = 'user';
CREATE INDEX hub_journal_revocations ON hub_journal (entity_id) WHERE entity = 'device';
-- Each origin's highest contiguous entry: the hub's version vector, read on every request.
CREATE TABLE hub_heads (origin TEXT PRIMARY KEY, seq BIGINT NOT NULL, hash TEXT NOT NULL);
CREATE TABLE hub_checkpoints (
    origin TEXT NOT NULL, seq BIGINT NOT NULL, hash TEXT NOT NULL, signature TEXT NOT NULL,
    PRIMARY KEY (origin, seq)
);
CREATE TABLE hub_certificates (device TEXT PRIMARY KEY, certificate TEXT NOT NULL);
-- The device registry: every laptop that called, when, from where, and what it held then.
CREATE TABLE hub_devices (
    device TEXT PRIMARY KEY, address TEXT NOT NULL, last_contact TEXT NOT NULL, vector TEXT NOT NULL,
    uploaded BIGINT NOT NULL DEFAULT 0
);
""",
    """
-- Programme managers' accounts for the hub's web pages (hub/web): not laptop users.
CREATE TABLE hub_operators (
    name TEXT PRIMARY KEY, hash TEXT NOT NULL, active INTEGER NOT NULL, language TEXT NOT NULL, created TEXT NOT NULL
);
-- Browser sessions by the SHA-256 of their cookie's token (the token itself is never stored),
-- in Unix seconds. A session without an operator guards the sign-in form before anyone signs in.
CREATE TABLE hub_sessions (
    token TEXT PRIMARY KEY, operator TEXT, csrf TEXT NOT NULL, language TEXT NOT NULL,
    started BIGINT NOT NULL, seen BIGINT NOT NULL
);
CREATE INDEX hub_sessions_seen ON hub_sessions (seen);
-- Failed sign-ins by name and by address, counted over a window to slow down guessing.
CREATE TABLE hub_sign_in_failures (subject TEXT NOT NULL, at BIGINT NOT NULL);
CREATE INDEX hub_sign_in_failures_subject ON hub_sign_in_failures (subject, at);
""",
    """
-- Reporting tables (hub/reporting.py): rows copied from the hub's replica, the laptops' own fold
-- of every entry the hub holds, so a count here is what a laptop holding the same entries counts.
-- `device` is the laptop that created the record, `entries` how many journal entries the row was
-- folded from: a copy made from a replica that had seen fewer never overwrites one made from more.
-- Dates are ISO text, 'YYYY-MM-DD' (a historical dose's may be '2019' or '2019-05').
CREATE TABLE report_patients (
    id TEXT PRIMARY KEY, sex TEXT, birth_year INTEGER, locality TEXT, registered_on TEXT,
    state TEXT NOT NULL, merged_into TEXT, immunity TEXT, vaccinated TEXT NOT NULL,
    device TEXT NOT NULL, updated TEXT NOT NULL, entries BIGINT NOT NULL
);
CREATE TABLE report_enrolments (
    id TEXT PRIMARY KEY, patient_id TEXT NOT NULL, programme TEXT NOT NULL, programme_version INTEGER,
    status TEXT, outcome TEXT, enrolled_on TEXT, outcome_date TEXT, team TEXT, attributes JSONB NOT NULL,
    destination TEXT, branch TEXT, voided INTEGER NOT NULL,
    device TEXT NOT NULL, updated TEXT NOT NULL, entries BIGINT NOT NULL
);
CREATE INDEX report_enrolments_programme ON report_enrolments (programme, status, outcome);
CREATE INDEX report_enrolments_enrolled ON report_enrolments (enrolled_on);
CREATE INDEX report_enrolments_outcome_date ON report_enrolments (outcome_date) WHERE outcome_date IS NOT NULL;
CREATE INDEX report_enrolments_patient ON report_enrolments (patient_id);
CREATE INDEX report_enrolments_device ON report_enrolments (device);
CREATE TABLE report_referrals (
    id TEXT PRIMARY KEY, patient_id TEXT NOT NULL, number TEXT, kind TEXT, from_facility TEXT, to_facility TEXT,
    service TEXT, urgency TEXT, status TEXT, referred_on TEXT, expected_by TEXT, days_to_arrival INTEGER,
    days_to_feedback INTEGER, voided INTEGER NOT NULL,
    device TEXT NOT NULL, updated TEXT NOT NULL, entries BIGINT NOT NULL
);
CREATE INDEX report_referrals_referred ON report_referrals (referred_on);
CREATE INDEX report_referrals_to ON report_referrals (to_facility, status);
CREATE INDEX report_referrals_patient ON report_referrals (patient_id);
CREATE TABLE report_lab_results (
    id TEXT PRIMARY KEY, patient_id TEXT NOT NULL, round_id TEXT, test TEXT, loinc TEXT, value TEXT, unit TEXT,
    coded TEXT, interpretation TEXT, positive TEXT NOT NULL, status TEXT, collected TEXT, voided INTEGER NOT NULL,
    device TEXT NOT NULL, updated TEXT NOT NULL, entries BIGINT NOT NULL
);
CREATE INDEX report_lab_results_round ON report_lab_results (round_id, test) WHERE round_id IS NOT NULL;
CREATE INDEX report_lab_results_collected ON report_lab_results (collected);
CREATE INDEX report_lab_results_patient ON report_lab_results (patient_id);
CREATE TABLE report_immunizations (
    id TEXT PRIMARY KEY, patient_id TEXT NOT NULL, vaccine TEXT, series TEXT, dose_number INTEGER, status TEXT,
    occurred TEXT, device TEXT NOT NULL, updated TEXT NOT NULL, entries BIGINT NOT NULL
);
CREATE INDEX report_immunizations_occurred ON report_immunizations (occurred);
CREATE INDEX report_immunizations_patient ON report_immunizations (patient_id, vaccine);
""",
]


class HubStorage:
    """The hub's tables on SQLite or PostgreSQL, answering sync's `JournalHolder`; every method
    is blocking (call it in a thread)."""

    kind: str

    @staticmethod
    def open(url: str, key: bytes | None = None) -> "HubStorage":
        """The storage at `url`; a SQLite file is encrypted with `key` (SQLCipher), plain only
        without one, which `fieldkit hub serve` never allows (HubSettings.database_key)."""
        if url.startswith(("postgresql://", "postgres://")):
            return PostgresStorage(url)
        if url.startswith("sqlite:///"):
            return SqliteStorage(Path(url.removeprefix("sqlite:///")), key)
        raise FieldkitError(f"unknown database {url!r}: give sqlite:///PATH or postgresql://…")

    # -- backend specifics ---------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        raise NotImplementedError

    def _lock_origins(self, cur, origins: list[str]) -> None:
        """Hold, until the transaction ends, the right to extend these origins' chains."""

    def _insert_entries(self, cur, entries: list[Entry]) -> None:
        cur.executemany(self._sql(f"INSERT INTO hub_journal VALUES ({', '.join('?' * len(COLUMNS))})"),
                        [e.row() for e in entries])

    def _sql(self, sql: str) -> str:
        return sql

    def close(self) -> None:
        raise NotImplementedError

    # -- reading -------------------------------------------------------------------------------

    def version_vector(self) -> dict[str, int]:
        with self._transaction() as cur:
            return {origin: seq for origin, seq in cur.execute("SELECT origin, seq FROM hub_heads")}

    def certificates(self) -> dict[str, bytes]:
        with self._transaction() as cur:
            return {device: pem.encode() for device, pem in cur.execute("SELECT device, certificate FROM hub_certificates")}

    def role_history(self, authors: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
        """(version, role) of every role each author was given, oldest first."""
        with self._transaction() as cur:
            grants = {author: role_grants(cur.execute(self._sql(
                "SELECT hlc, origin, data FROM hub_journal WHERE entity_id = ? AND entity = 'user'"), (author,)).fetchall())
                for author in authors}
        return {author: granted for author, granted in grants.items() if granted}

    def revoked(self) -> set[str]:
        with self._transaction() as cur:
            return {row[0] for row in cur.execute("SELECT DISTINCT entity_id FROM hub_journal "
                                                  "WHERE entity = 'device' AND op = 'revoke'")}

    def hashes(self, points: Mapping[str, int]) -> dict[str, str]:
        """{origin: hash of its entry at that seq}, for the points held."""
        with self._transaction() as cur:
            found = {origin: cur.execute(self._sql("SELECT hash FROM hub_journal WHERE origin = ? AND seq = ?"),
                                         (origin, seq)).fetchone() for origin, seq in points.items()}
        return {origin: row[0] for origin, row in found.items() if row}

    def cutoffs(self) -> Cutoffs:
        """The revocations' cut-offs (store/holdback.py). The hub folds nothing; what the laptops hold
        back it keeps and relays like any entry, and counts apart for the operator."""
        with self._transaction() as cur:
            return Cutoffs.of(Entry(*row) for row in cur.execute(f"SELECT * FROM hub_journal WHERE {SETTING_SQL}"))

    def held_back(self) -> dict[str, int]:
        """How many entries of each laptop lie beyond a revocation's cut-off."""
        cutoffs = self.cutoffs()
        counts: dict[str, int] = {}
        with self._transaction() as cur:
            for device, seq in cutoffs.devices.items():
                counts[device] = int(cur.execute(self._sql(
                    "SELECT count(*) FROM hub_journal WHERE origin = ? AND seq > ?"), (device, seq)).fetchone()[0])
            for user in cutoffs.users:
                for origin, seq in cur.execute(self._sql("SELECT origin, seq FROM hub_journal WHERE author = ?"), (user,)):
                    if origin not in cutoffs.devices and cutoffs.holds(origin, seq, user):
                        counts[origin] = counts.get(origin, 0) + 1
        return counts

    def count(self) -> int:
        with self._transaction() as cur:
            return int(cur.execute("SELECT coalesce(sum(seq), 0) FROM hub_heads").fetchone()[0])  # numeric in PG

    def outgoing(self, vector: Mapping[str, int], limit: int) -> Outgoing:
        """The next batch for the holder of `vector` (outgoing.select)."""
        with self._transaction() as cur:
            return select(_Tables(cur, self._sql), vector, limit)

    def heard_from(self) -> dict[str, str]:
        """When each laptop whose entries the hub holds was last heard of (ISO UTC): its last call,
        or the stamp of the newest entry the hub holds from it, whichever is later (a laptop whose
        entries a supervisor's laptop relays may never call the hub itself)."""
        with self._transaction() as cur:
            stamped = cur.execute("SELECT h.origin, j.hlc FROM hub_heads h JOIN hub_journal j "
                                  "ON j.origin = h.origin AND j.seq = h.seq").fetchall()
            called = dict(cur.execute("SELECT device, last_contact FROM hub_devices").fetchall())
        heard = {origin: datetime.fromtimestamp(millis(hlc) / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                 for origin, hlc in stamped}
        for device, last in called.items():
            heard[device] = max(last, heard.get(device, ""))
        return heard

    def devices(self) -> list[dict[str, Any]]:
        revoked, held_back = self.revoked(), self.held_back()
        with self._transaction() as cur:
            heads = dict(cur.execute("SELECT origin, seq FROM hub_heads").fetchall())
            rows = cur.execute("SELECT device, address, last_contact, vector, uploaded FROM hub_devices "
                               "ORDER BY device").fetchall()
        return [{"device": device, "address": address, "last_contact": last, "vector": parse(vector),
                 "uploaded": uploaded, "entries_held": heads.get(device, 0), "revoked": device in revoked,
                 "held_back": held_back.get(device, 0)}
                for device, address, last, vector, uploaded in rows]

    # -- writing -------------------------------------------------------------------------------

    def ingest(self, entries: Iterable[Entry], checkpoints: Iterable[Checkpoint] = (),
               certificates: Mapping[str, bytes] | None = None) -> Ingested:
        """Store verified entries the hub lacks, with their proof; all or nothing.

        A gap, a broken link or a second history for one laptop raises ChainError; entries
        already held are skipped, so a re-sent batch stores nothing and is acknowledged again.
        """
        entries, certificates = list(entries), certificates or {}
        origins = sorted({e.origin for e in entries})
        with self._transaction() as cur:
            self._lock_origins(cur, origins)
            heads = {}
            for origin in origins:
                row = cur.execute(self._sql("SELECT seq, hash FROM hub_heads WHERE origin = ?"), (origin,)).fetchone()
                if row:
                    heads[origin] = (row[0], row[1])
            held = count_held(entries, heads, lambda origin, seq: cur.execute(
                self._sql("SELECT hash FROM hub_journal WHERE origin = ? AND seq = ?"), (origin, seq)).fetchone()[0])
            fresh = plan_chain(entries, heads)
            moved = {e.origin: (e.seq, e.hash) for e in fresh}  # chain order: each origin's last is its new head
            if fresh:
                self._insert_entries(cur, fresh)
                cur.executemany(self._sql("INSERT INTO hub_heads VALUES (?, ?, ?) ON CONFLICT (origin) DO UPDATE "
                                          "SET seq = excluded.seq, hash = excluded.hash"),
                                [(origin, seq, digest) for origin, (seq, digest) in moved.items()])
                cur.executemany(self._sql("INSERT INTO hub_checkpoints VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"),
                                [(c.origin, c.seq, c.hash, c.signature.hex()) for c in checkpoints])
                cur.executemany(self._sql("INSERT INTO hub_certificates VALUES (?, ?) ON CONFLICT DO NOTHING"),
                                [(device, pem.decode()) for device, pem in certificates.items()])
        # The origins are locked for the transaction: their heads are what it read, moved by what it wrote.
        heads |= moved
        return Ingested(len(fresh), held, {origin: heads[origin][0] for origin in origins})

    def record_contact(self, device: str, address: str, vector: Mapping[str, int]) -> None:
        """A laptop said hello: when, from where, and what it holds."""
        with self._transaction() as cur:
            cur.execute(self._sql(
                "INSERT INTO hub_devices VALUES (?, ?, ?, ?, 0) ON CONFLICT (device) DO UPDATE SET "
                "address = excluded.address, last_contact = excluded.last_contact, vector = excluded.vector"),
                (device, address, _now(), canonical(dict(vector))))

    # -- the reporting tables: hub/reporting.py copies into them, hub/reports.py reads them -------

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """The rows of one read; `?` marks a parameter on either backend."""
        with self._transaction() as cur:
            return cur.execute(self._sql(sql), tuple(params)).fetchall()

    def json_text(self, column: str, key: str) -> str:
        """SQL for the text at `key` of a JSON object column (`key` a checked name, never user text)."""
        return f"json_extract({column}, '$.{key}')"

    def write_reports(self, tables: Mapping[str, tuple[Sequence[str], Sequence[Sequence[Any]]]],
                      gone: Mapping[str, Sequence[str]] | None = None) -> None:
        """Rows of reporting tables, {table: (columns, rows)}, and the ids to delete, {table: ids}, in
        one transaction. A row replaces the one held only if folded from at least as many journal
        entries (`entries`), so a hub process whose replica lags never undoes another's newer copy."""
        with self._transaction() as cur:
            for table, ids in (gone or {}).items():
                cur.executemany(self._sql(f"DELETE FROM {table} WHERE id = ?"), [(i,) for i in ids])
            for table, (columns, rows) in tables.items():
                updates = ", ".join(f"{column} = excluded.{column}" for column in columns if column != "id")
                cur.executemany(self._sql(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
                    f"ON CONFLICT (id) DO UPDATE SET {updates} WHERE excluded.entries >= {table}.entries"), list(rows))

    def record_upload(self, device: str, applied: int) -> None:
        """A laptop's batch was stored: `applied` entries new to the hub."""
        with self._transaction() as cur:
            cur.execute(self._sql("UPDATE hub_devices SET last_contact = ?, uploaded = uploaded + ? WHERE device = ?"),
                        (_now(), applied, device))


class _Tables:
    """The hub's journal tables as batch selection reads them (outgoing.JournalTables)."""

    def __init__(self, cur: Any, sql: Any) -> None:
        self.cur, self.sql = cur, sql

    def heads(self) -> list[tuple[str, int]]:
        return self.cur.execute("SELECT origin, seq FROM hub_heads ORDER BY origin").fetchall()

    def signed_after(self, origin: str, seq: int) -> list[tuple[int, str, bytes]]:
        return [(at, digest, bytes.fromhex(signature)) for at, digest, signature in self.cur.execute(self.sql(
            "SELECT seq, hash, signature FROM hub_checkpoints WHERE origin = ? AND seq > ? ORDER BY seq"),
            (origin, seq)).fetchall()]

    def entries(self, origin: str, after: int, upto: int) -> list[Entry]:
        return [Entry(*row) for row in self.cur.execute(self.sql(
            f"SELECT {', '.join(COLUMNS)} FROM hub_journal WHERE origin = ? AND seq > ? AND seq <= ? ORDER BY seq"),
            (origin, after, upto)).fetchall()]

    def certificate(self, origin: str) -> bytes | None:
        row = self.cur.execute(self.sql("SELECT certificate FROM hub_certificates WHERE device = ?"), (origin,)).fetchone()
        return row[0].encode() if row else None


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SqliteStorage(HubStorage):
    kind = "sqlite"

    def __init__(self, path: Path, key: bytes | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # One connection, one writer: SQLite serialises writers anyway, and a lock makes that
        # explicit across the threads aiohttp's handlers hand their work to.
        self._conn = sqlcipher3.connect(str(path), isolation_level=None, check_same_thread=False)
        try:
            if key is not None:
                use_key(self._conn, key)
            self._conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlcipher3.DatabaseError:
            self._conn.close()
            raise FieldkitError(f"cannot open {path}: wrong key, or not a hub database") from None
        self._conn.execute("PRAGMA temp_store = MEMORY")  # no plaintext temporary files
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = FULL")
        self._lock = threading.Lock()
        with self._transaction() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS hub_schema (version INTEGER NOT NULL)")
            done = conn.execute("SELECT max(version) FROM hub_schema").fetchone()[0] or 0
            for number, script in enumerate(MIGRATIONS[done:], start=done + 1):
                # JSON is TEXT in SQLite, whose json functions read it; JSONB in PostgreSQL.
                for statement in filter(str.strip, script.replace(" JSONB", " TEXT").split(";")):
                    conn.execute(statement)
                conn.execute("INSERT INTO hub_schema VALUES (?)", (number,))

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        with self._lock, immediate(self._conn):
            yield self._conn

    def close(self) -> None:
        self._conn.close()


def rekey_sqlite(path: Path, old: bytes, new: bytes) -> None:
    """Re-encrypt a stopped hub's SQLite file under a new key: exported whole into a new file,
    which then takes the old one's place, so a crash midway leaves the old file and key working."""
    fresh = path.with_name(path.name + ".rekey")
    fresh.unlink(missing_ok=True)
    storage = SqliteStorage(path, old)  # proves the old key, and migrates
    try:
        conn = storage._conn
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("ATTACH DATABASE ? AS fresh KEY ?", (str(fresh), f"x'{new.hex()}'"))
        conn.execute("SELECT sqlcipher_export('fresh')")
        conn.execute("DETACH DATABASE fresh")
    finally:
        storage.close()
    SqliteStorage(fresh, new).close()  # opens under the new key, or the old file stays
    crashpoint("hub.rekey.after_export")
    for leftover in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)
    os.replace(fresh, path)
    crashpoint("hub.rekey.after_replace")


class PostgresStorage(HubStorage):
    kind = "postgresql"

    def __init__(self, url: str, *, size: int = 8) -> None:
        import psycopg
        from psycopg_pool import ConnectionPool

        self.url = url
        # One plain connection first: the pool would retry for half a minute and then say only
        # that it timed out, where the operator needs libpq's reason (SSL required and refused,
        # a wrong password) at once. A URL's sslmode is libpq's own: `require` never falls back.
        try:
            psycopg.connect(url, connect_timeout=10).close()
        except psycopg.OperationalError as exc:
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise FieldkitError(f"cannot use the hub's PostgreSQL: {reason}") from None
        self._pool = ConnectionPool(url, min_size=1, max_size=size, open=True,
                                    kwargs={"autocommit": False}, name="fieldkit-hub")
        with self._pool.connection() as conn:
            # Two hub processes starting at once must not both create the tables.
            conn.execute("SELECT pg_advisory_xact_lock(7300)")
            self._migrate_on(conn)

    def _migrate_on(self, conn) -> None:
        conn.execute("CREATE TABLE IF NOT EXISTS hub_schema (version INTEGER NOT NULL)")
        done = conn.execute("SELECT max(version) FROM hub_schema").fetchone()[0] or 0
        for number, script in enumerate(MIGRATIONS[done:], start=done + 1):
            conn.execute(script)
            conn.execute("INSERT INTO hub_schema VALUES (%s)", (number,))

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s")

    def json_text(self, column: str, key: str) -> str:
        return f"({column} ->> '{key}')"

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        with self._pool.connection() as conn:  # commits on success, rolls back on an exception
            with conn.cursor() as cur:
                yield _Cursor(cur)

    def _lock_origins(self, cur, origins: list[str]) -> None:
        for origin in origins:  # in one order everywhere, so two uploads cannot deadlock
            cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 7300))", (origin,))

    def _insert_entries(self, cur, entries: list[Entry]) -> None:
        # COPY: one round trip for the whole batch, several times faster than batched INSERTs.
        with cur.raw.copy(f"COPY hub_journal ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for entry in entries:
                copy.write_row(entry.row())

    def close(self) -> None:
        self._pool.close()


class _Cursor:
    """A psycopg cursor that answers `execute(...).fetchall()` the way sqlite3's connection does."""

    def __init__(self, cursor) -> None:
        self.raw = cursor

    def execute(self, sql: str, params: Any = None) -> Any:
        return self.raw.execute(sql, params)

    def executemany(self, sql: str, rows: list) -> None:
        if rows:
            self.raw.executemany(sql, rows)
