"""`fieldkit db check`: everything that can be verified about a database without changing it."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import sqlite_utils

from fieldkit.errors import ChainError
from fieldkit.store import audit, fold
from fieldkit.store.connection import DatabaseError
from fieldkit.store.db import Store
from fieldkit.store.journal import GENESIS, Entry, verify_hash


def verify_journal(conn) -> tuple[int, str]:
    """Re-check every entry's hash and link; returns (entries, first problem or '')."""
    count, origin, seq, head = 0, None, 0, GENESIS
    for row in conn.execute("SELECT * FROM journal ORDER BY origin, seq"):
        entry = Entry(*row)
        if entry.origin != origin:
            origin, seq, head = entry.origin, 0, GENESIS
        try:
            verify_hash(entry)
        except ChainError as exc:
            return count, str(exc)
        if entry.seq != seq + 1 or entry.prev != head:
            return count, f"journal of {origin[:8]} is broken at #{entry.seq}"
        seq, head = entry.seq, entry.hash
        count += 1
    return count, ""


def table_counts(conn) -> dict[str, int]:
    """Rows per table, through sqlite-utils' introspection (it works on the keyed connection)."""
    database = sqlite_utils.Database(conn)
    return {name: database[name].count for name in sorted(database.table_names())}


def cipher_integrity(conn, *, tries: int = 3, pause: float = 0.2) -> list[str]:
    """Pages whose HMAC fails, as SQLCipher reports them.

    The pragma reads the database file itself, not the reader's snapshot: while another process
    checkpoints its WAL into that file, a page can be read half-written and fail. Such a page reads
    whole a moment later; a page that really is damaged fails every time, so only failures that
    persist over `tries` reads are reported."""
    failed = [row[0] for row in conn.execute("PRAGMA cipher_integrity_check")]
    for _ in range(tries - 1):
        if not failed:
            break
        time.sleep(pause)
        again = {row[0] for row in conn.execute("PRAGMA cipher_integrity_check")}
        failed = [problem for problem in failed if problem in again]
    return failed


def check(store: Store) -> dict[str, Any]:
    # A checkpoint cut short by a power loss leaves pages of the file unwritten (holes read as zeros, failing
    # their HMAC) while the WAL still holds them whole, and SQLite reads them from there. Finish it first, as the
    # next checkpoint would, so the page check judges what SQLite reads (campaign T3). The content is unchanged;
    # if the disk is full the checkpoint stops and the file is checked as it is.
    with contextlib.suppress(DatabaseError):
        store._writer.call(lambda conn: conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall())

    def job(conn) -> dict[str, Any]:
        cipher = cipher_integrity(conn)  # first: it reads every page even when the b-trees cannot be walked
        try:
            pages = [row[0] for row in conn.execute("PRAGMA integrity_check")]
            entries, journal_problem = verify_journal(conn)
            log = audit.verify(conn)
        except DatabaseError as exc:  # a damaged page is a finding to report, not a crash
            return {"integrity": f"unreadable: {exc}", "cipher_integrity": "; ".join(cipher) or "ok",
                    "journal": "not checked", "audit": "not checked", "ok": False}
        report = {
            "integrity": "ok" if pages == ["ok"] else "; ".join(pages),
            "cipher_integrity": "ok" if not cipher else "; ".join(cipher),
            "journal_entries": entries,
            "journal": journal_problem or "ok",
            "origins": conn.execute("SELECT count(DISTINCT origin) FROM journal").fetchone()[0],
            "audit_rows": log.rows,
            "audit": log.problem or "ok",
            "patients": conn.execute("SELECT count(*) FROM patients").fetchone()[0],
            "encounters": conn.execute("SELECT count(*) FROM encounters").fetchone()[0],
            "open_conflicts": conn.execute("SELECT count(*) FROM conflicts c WHERE safety = 1 AND NOT EXISTS "
                                           "(SELECT 1 FROM resolutions r WHERE r.conflict_id = c.id)").fetchone()[0],
            "state_hash": fold.state_hash(conn),
            "tables": table_counts(conn),
        }
        report["ok"] = all(report[k] == "ok" for k in ("integrity", "cipher_integrity", "journal", "audit"))
        return report
    return store.read(job)
