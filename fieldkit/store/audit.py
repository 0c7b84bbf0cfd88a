"""Append-only, hash-chained audit log: who wrote and who opened which patient, and when.

Rows never hold patient data, only ids. Each row's hash covers the previous one, so an edited
row breaks the chain; the head (count and last hash) is also kept in `meta`, written in the same
transaction, so rows cut off the end are noticed too. Triggers refuse UPDATE and DELETE.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from fieldkit.store.journal import GENESIS, canonical


@dataclass
class AuditHead:
    seq: int = 0
    hash: str = GENESIS

    @classmethod
    def load(cls, conn) -> "AuditHead":
        row = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        return cls(*row) if row else cls()


def _digest(seq: int, at: str, user: str, action: str, entity_id: str, detail: str, prev: str) -> str:
    return hashlib.sha256(canonical([seq, at, user, action, entity_id, detail, prev]).encode()).hexdigest()


def append(conn, head: AuditHead, *, user: str, action: str, entity_id: str = "", detail: str = "") -> AuditHead:
    """Add one row inside the caller's transaction and return the new head (the caller keeps it)."""
    return append_many(conn, head, user=user, events=[(action, entity_id, detail)])


def append_many(conn, head: AuditHead, *, user: str, events: list[tuple[str, str, str]]) -> AuditHead:
    """Add a row per (action, entity id, detail) in one statement; the head is written once."""
    at = datetime.now(UTC).isoformat(timespec="milliseconds")
    rows = []
    for action, entity_id, detail in events:
        seq = head.seq + 1
        digest = _digest(seq, at, user, action, entity_id, detail, head.hash)
        rows.append((seq, at, user, action, entity_id, detail, head.hash, digest))
        head = AuditHead(seq, digest)
    conn.executemany("INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.execute("INSERT OR REPLACE INTO meta VALUES ('audit_head', ?)", (f"{head.seq}:{head.hash}",))
    return head


@dataclass
class AuditReport:
    rows: int
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem


def verify(conn) -> AuditReport:
    prev, count = GENESIS, 0
    for seq, at, user, action, entity_id, detail, row_prev, digest in conn.execute(
        "SELECT * FROM audit ORDER BY seq"
    ):
        count += 1
        if seq != count:
            return AuditReport(count, f"row {count} is missing (next row is #{seq})")
        if row_prev != prev or _digest(seq, at, user, action, entity_id, detail, prev) != digest:
            return AuditReport(count, f"row #{seq} was modified: its hash does not match")
        prev = digest
    recorded = conn.execute("SELECT value FROM meta WHERE key = 'audit_head'").fetchone()
    expected = f"{count}:{prev}" if count else None
    if (recorded[0] if recorded else None) != expected:
        return AuditReport(count, f"log ends at row {count} but {recorded[0].split(':')[0] if recorded else 0} rows were written: truncated")
    return AuditReport(count)
