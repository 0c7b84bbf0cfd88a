"""One write transaction on the writer's connection: what every write job is handed.

The store's writer thread runs each write job between BEGIN IMMEDIATE and COMMIT, so SQLite's
write lock is held throughout and nothing another process does can interleave. Everything a write
allocates (the next sequence number of this laptop's chain, the next audit row, the next clock
reading) is read from the database inside the transaction, never remembered from an earlier one:
another fieldkit process on the same data directory (the clinic screen, `sync serve`, a command
in a second shell) may have written in between. Those reads are single index lookups.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fieldkit.store import audit, fold
from fieldkit.store.heads import chain_head
from fieldkit.store.hlc import HybridClock
from fieldkit.store.journal import GENESIS, Checkpoint, Entry, count_held, make_entry, plan_chain


@dataclass(frozen=True)
class Change:
    """One entity change a service wants journalled; the transaction stamps, chains and folds it."""

    entity: str
    entity_id: str
    op: str
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Ingested:
    """What receiving a batch did; `heads` (of the batch's origins, after it) is the acknowledgement."""

    applied: int = 0
    already_held: int = 0
    heads: dict[str, int] = field(default_factory=dict)
    suspect_clock: list[str] = field(default_factory=list)  # origins whose stamps ran far ahead


class Transaction:
    def __init__(self, conn: Any, device_id: str, clock: HybridClock) -> None:
        self.conn = conn
        self.device_id = device_id
        self._clock = clock
        self._clock_read = False
        self._audit_head: audit.AuditHead | None = None
        self.journalled: list[Entry] = []  # every entry this transaction added, for the commit notice

    # The connection's reading methods, so a read query (a function of a connection) runs here too.
    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> Any:
        return self.conn.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Any:
        return self.conn.executemany(sql, rows)

    # -- the journal -----------------------------------------------------------------------------

    def append(self, changes: Sequence[Change], *, user: str) -> list[Entry]:
        """Journal, fold and audit local changes, continuing this laptop's chain as stored now."""
        seq, prev = chain_head(self.conn, self.device_id) or (0, GENESIS)
        entries = []
        for change in changes:
            seq += 1
            entry = make_entry(origin=self.device_id, seq=seq, prev=prev, hlc=self._now(), entity=change.entity,
                               entity_id=change.entity_id, op=change.op, author=user, payload=change.payload)
            entries.append(entry)
            prev = entry.hash
        self._journal(entries)
        self.audit_many(user, [(f"{e.op} {e.entity}", e.entity_id, f"#{e.seq}") for e in entries])
        return entries

    def receive(self, entries: Sequence[Entry], *, checkpoints: Iterable[Checkpoint] = (),
                certificates: Mapping[str, bytes] | None = None, user: str = "sync") -> Ingested:
        """Check received entries against the chains held now, then journal and fold the new ones.

        A tampered entry, a gap or a broken link raises ChainError and the transaction changes
        nothing; entries already held are skipped, so re-sending a batch is harmless. The
        checkpoints and certificates that proved the batch (checked by the caller) are kept too.
        """
        heads = {origin: head for origin in {e.origin for e in entries} if (head := chain_head(self.conn, origin))}
        result = Ingested(already_held=count_held(entries, heads, lambda origin, seq: self.conn.execute(
            "SELECT hash FROM journal WHERE origin = ? AND seq = ?", (origin, seq)).fetchone()[0]))
        fresh = plan_chain(entries, heads)
        if fresh:
            self._journal(fresh)
            self.conn.executemany("INSERT OR IGNORE INTO checkpoints VALUES (?, ?, ?, ?)",
                                  [(c.origin, c.seq, c.hash, c.signature) for c in checkpoints])
            self.conn.executemany("INSERT OR IGNORE INTO devices VALUES (?, ?)", (certificates or {}).items())
            self._read_clock()
            for entry in fresh:
                if not self._clock.observe(entry.hlc) and entry.origin not in result.suspect_clock:
                    result.suspect_clock.append(entry.origin)
            self.audit(user, "receive", detail=f"{len(fresh)} entries")
        result.applied = len(fresh)
        result.heads = {origin: seq for origin, (seq, _) in heads.items()} | {e.origin: e.seq for e in fresh}
        return result

    def _journal(self, entries: list[Entry]) -> None:
        # Journalled first, in one statement: the fold reads an entity's writes back from the journal.
        self.conn.executemany("INSERT INTO journal VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [e.row() for e in entries])
        fold.apply(self.conn, entries)
        self.journalled += entries

    # -- the audit log ---------------------------------------------------------------------------

    def audit(self, user: str, action: str, entity_id: str = "", detail: str = "") -> None:
        self.audit_many(user, [(action, entity_id, detail)])

    def audit_many(self, user: str, events: list[tuple[str, str, str]]) -> None:
        if self._audit_head is None:
            self._audit_head = audit.AuditHead.load(self.conn)
        self._audit_head = audit.append_many(self.conn, self._audit_head, user=user, events=events)

    # -- the clock -------------------------------------------------------------------------------

    def _read_clock(self) -> None:
        # Once per transaction: continue from the last stamp any process on this file stored.
        if not self._clock_read:
            row = self.conn.execute("SELECT value FROM meta WHERE key = 'hlc'").fetchone()
            self._clock.last = max(self._clock.last, int(row[0]) if row else 0)
            self._clock_read = True

    def _now(self) -> int:
        self._read_clock()
        return self._clock.now()

    def finish(self) -> None:
        """Called just before COMMIT: keep the clock's last stamp if this transaction used it."""
        if self._clock_read:
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('hlc', ?)", (self._clock.last,))
