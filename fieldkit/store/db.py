"""An unlocked clinic database: the writer thread, this device's clock, journal head and audit head.

Everything that touches the connection runs on the writer thread; the public methods hand it a
job and wait. `append` is the only way a local change enters the journal and `apply_remote` the
only way a received one does; both fold in the same transaction, so tables never lag the journal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence, TypeVar

from fieldkit.errors import ChainError, FieldkitError
from fieldkit.store import audit, fold
from fieldkit.store.connection import connect
from fieldkit.store.hlc import HybridClock
from fieldkit.store.journal import GENESIS, Entry, make_entry, plan_chain
from fieldkit.store.writer import Writer

T = TypeVar("T")


@dataclass(frozen=True)
class Change:
    """One entity change a service wants journalled; the store stamps, chains and folds it."""

    entity: str
    entity_id: str
    op: str
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class ApplyResult:
    applied: int = 0
    already_held: int = 0
    suspect_clock: list[str] = field(default_factory=list)  # origins whose stamps ran far ahead


def _journal_and_fold(conn, entries: list[Entry]) -> None:
    # Journalled first, in one statement: the fold reads an entity's writes back from the journal.
    conn.executemany("INSERT INTO journal VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [e.row() for e in entries])
    for entry in entries:
        fold.apply(conn, entry)


class Store:
    def __init__(self, path: Path, key: bytes | None, *, device_id: str | None = None) -> None:
        self.path = path
        self.writer = Writer(lambda: connect(path, key))
        self.device_id, self.clock, self._head, self._audit = self.writer.call(
            lambda conn: self._load(conn, device_id)
        )

    @staticmethod
    def _load(conn, device_id: str | None):
        meta = dict(conn.execute("SELECT key, value FROM meta"))
        if device_id is None:
            device_id = meta.get("device_id")
            if not device_id:
                raise FieldkitError("this database has no device identity (run `fieldkit init`)")
        elif meta.get("device_id") not in (None, device_id):
            raise FieldkitError("this database belongs to another device")
        conn.execute("INSERT OR IGNORE INTO meta VALUES ('device_id', ?)", (device_id,))
        head = conn.execute(
            "SELECT seq, hash FROM journal WHERE origin = ? ORDER BY seq DESC LIMIT 1", (device_id,)
        ).fetchone() or (0, GENESIS)
        return device_id, HybridClock(int(meta.get("hlc", 0))), head, audit.AuditHead.load(conn)

    # -- running work on the writer thread -------------------------------------------------------

    def read(self, job: Callable[[Any], T]) -> T:
        return self.writer.call(job)

    async def aread(self, job: Callable[[Any], T]) -> T:
        return await self.writer.run(job)

    def close(self) -> None:
        self.writer.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------------------

    def append(self, changes: Sequence[Change], *, user: str) -> list[Entry]:
        """Journal, fold and audit a group of changes as one transaction; all or nothing."""
        return self.writer.call(lambda conn: self._append(conn, changes, user))

    async def aappend(self, changes: Sequence[Change], *, user: str) -> list[Entry]:
        return await self.writer.run(lambda conn: self._append(conn, changes, user))

    def _append(self, conn, changes: Sequence[Change], user: str) -> list[Entry]:
        seq, prev = self._head
        entries = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            for change in changes:
                seq += 1
                entry = make_entry(origin=self.device_id, seq=seq, prev=prev, hlc=self.clock.now(),
                                   entity=change.entity, entity_id=change.entity_id, op=change.op,
                                   author=user, payload=change.payload)
                entries.append(entry)
                prev = entry.hash
            _journal_and_fold(conn, entries)
            head = audit.append_many(conn, self._audit, user=user, events=[
                (f"{e.op} {e.entity}", e.entity_id, f"#{e.seq}") for e in entries])
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('hlc', ?)", (self.clock.last,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._head, self._audit = (seq, prev), head
        return entries

    def apply_remote(self, entries: Iterable[Entry], *, user: str = "sync") -> ApplyResult:
        """Verify received entries against our chains, then journal and fold the new ones.

        A tampered entry, a gap or a broken link refuses the whole batch and changes nothing;
        entries we already hold are skipped, so re-sending a batch is harmless.
        """
        batch = list(entries)
        return self.writer.call(lambda conn: self._apply_remote(conn, batch, user))

    def _apply_remote(self, conn, batch: list[Entry], user: str) -> ApplyResult:
        heads = {}
        for origin in {e.origin for e in batch}:
            row = conn.execute("SELECT seq, hash FROM journal WHERE origin = ? ORDER BY seq DESC LIMIT 1",
                               (origin,)).fetchone()
            if row:
                heads[origin] = row
        result = ApplyResult()
        for entry in batch:
            if entry.seq <= heads.get(entry.origin, (0,))[0]:
                held = conn.execute("SELECT hash FROM journal WHERE origin = ? AND seq = ?",
                                    (entry.origin, entry.seq)).fetchone()
                if held[0] != entry.hash:
                    raise ChainError(f"entry {entry.origin[:8]}#{entry.seq} differs from the one held: "
                                     "two histories for one device (cloned or restored laptop?)")
                result.already_held += 1
        fresh = plan_chain(batch, heads)
        if not fresh:
            return result
        head = self._audit
        conn.execute("BEGIN IMMEDIATE")
        try:
            _journal_and_fold(conn, fresh)
            for entry in fresh:
                if not self.clock.observe(entry.hlc) and entry.origin not in result.suspect_clock:
                    result.suspect_clock.append(entry.origin)
            head = audit.append(conn, head, user=user, action="receive", detail=f"{len(fresh)} entries")
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('hlc', ?)", (self.clock.last,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._audit = head
        own = [e for e in fresh if e.origin == self.device_id]
        if own:  # our own entries coming back after a restore: continue after them
            self._head = (own[-1].seq, own[-1].hash)
        result.applied = len(fresh)
        return result

    def record_view(self, user: str, patient_id: str) -> None:
        """Audit that `user` opened a patient's record; committed before the record is shown."""
        def job(conn):
            conn.execute("BEGIN IMMEDIATE")
            try:
                head = audit.append(conn, self._audit, user=user, action="view patient", entity_id=patient_id)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            self._audit = head
        self.writer.call(job)

    # -- reading the journal ---------------------------------------------------------------------

    def version_vector(self) -> dict[str, int]:
        # Contiguous by construction (apply_remote refuses gaps), so max(seq) is the whole prefix.
        return self.read(lambda conn: dict(conn.execute("SELECT origin, max(seq) FROM journal GROUP BY origin")))

    def entries_after(self, vector: Mapping[str, int], limit: int = 500) -> list[Entry]:
        """Entries the holder of `vector` lacks, each origin in sequence order, at most `limit`."""
        def job(conn):
            out: list[Entry] = []
            for origin, top in conn.execute("SELECT origin, max(seq) FROM journal GROUP BY origin ORDER BY origin"):
                have = vector.get(origin, 0)
                if top > have and len(out) < limit:
                    out += [Entry(*row) for row in conn.execute(
                        "SELECT * FROM journal WHERE origin = ? AND seq > ? ORDER BY seq LIMIT ?",
                        (origin, have, limit - len(out)))]
            return out
        return self.read(job)

    def state_hash(self) -> str:
        return self.read(fold.state_hash)

    def rebuild(self) -> int:
        return self.read(fold.rebuild)

    def verify_audit(self) -> audit.AuditReport:
        return self.read(audit.verify)
