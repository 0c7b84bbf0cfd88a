"""An unlocked clinic database: reads beside one writer, and a notice after every commit.

- `read(job)` runs a function of a read-only connection on a reader thread, inside one read
  transaction (a consistent snapshot). In WAL mode a reader never waits for the writer, so a
  search stays quick while a sync folds a batch.
- `write(job)` runs a function of a `Transaction` on the writer thread, between BEGIN IMMEDIATE
  and COMMIT, written here once: the job succeeds and commits, or raises and nothing is kept.
- `aread` and `awrite` are the same from the event loop: cancelling the awaiting task cancels a
  job still queued. The synchronous forms are for threads without one (the command line).
- After each commit that added journal entries, subscribers hear which origins and entity types
  changed; the writer also notices, within half a second, commits by other processes on the same
  file (`PRAGMA data_version`), so a clinic screen beside `sync serve` sees the other's saves.

Any number of processes may open one file: everything a write allocates is read inside its own
transaction (transaction.py), and SQLite's lock makes transactions take turns.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from fieldkit.crashpoints import crashpoint
from fieldkit.errors import FieldkitError
from fieldkit.store import audit, fold
from fieldkit.store.connection import connect
from fieldkit.store.heads import chain_head, get_meta, heads, version_vector
from fieldkit.store.hlc import HybridClock
from fieldkit.store.holdback import Cutoffs, user_revoked
from fieldkit.store.journal import Checkpoint, Entry, canonical, checkpoint_message, parse, role_grants
from fieldkit.store.outgoing import Outgoing, select
from fieldkit.store.sql import immediate
from fieldkit.store.threads import ConnectionThreads
from fieldkit.store.transaction import Change, Ingested, Transaction

if TYPE_CHECKING:
    import asyncio

__all__ = ["Change", "Committed", "Ingested", "Outgoing", "Rebuilt", "Store", "Transaction"]

T = TypeVar("T")
log = logging.getLogger(__name__)

READERS = 2  # reader threads: the machines have two cores
# An origin signs its chain at least this often, so a batch can always end on a signed entry:
# often enough for the small batches of a satellite link to the hub (64 bytes per 50 entries).
CHECKPOINT_EVERY = 50


@dataclass(frozen=True)
class Committed:
    """What a commit changed, as its subscribers hear it."""

    origins: frozenset[str]  # whose journal grew
    entities: frozenset[str] | None  # entity types written; None when another process wrote
    external: bool = False  # another process committed (it may have changed only local tables)


Subscriber = Callable[[Committed], object]


@dataclass(frozen=True)
class Rebuilt:
    entries: int  # folded again
    before: str  # state hash
    after: str

    @property
    def same(self) -> bool:
        return self.before == self.after


class _Tables:
    """The laptop's journal tables as batch selection reads them (outgoing.JournalTables)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def heads(self) -> list[tuple[str, int]]:
        return heads(self.conn)

    def signed_after(self, origin: str, seq: int) -> list[tuple[int, str, bytes]]:
        return self.conn.execute("SELECT seq, hash, signature FROM checkpoints WHERE origin = ? AND seq > ? "
                                 "ORDER BY seq", (origin, seq)).fetchall()

    def entries(self, origin: str, after: int, upto: int) -> list[Entry]:
        return [Entry(*row) for row in self.conn.execute(
            "SELECT * FROM journal WHERE origin = ? AND seq > ? AND seq <= ? ORDER BY seq", (origin, after, upto))]

    def certificate(self, origin: str) -> bytes | None:
        row = self.conn.execute("SELECT certificate FROM devices WHERE id = ?", (origin,)).fetchone()
        return row[0] if row else None


def _read(job: Callable[[Any], T]) -> Callable[[Any], T]:
    def in_snapshot(conn: Any) -> T:
        conn.execute("BEGIN")
        try:
            return job(conn)
        finally:
            # A read-only transaction: nothing to keep or undo. ROLLBACK, not COMMIT: once SQLCipher
            # has met a damaged page, COMMIT fails and would hide the finding behind its error.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
    return in_snapshot


class Store:
    def __init__(self, path: Path, key: bytes | None, *, device_id: str | None = None, readers: int = READERS) -> None:
        self.path = path
        self._subscribers: list[Subscriber] = []
        self._subscribed = threading.Lock()
        self._seen_version: int | None = None  # PRAGMA data_version when the writer last looked
        self._seen_vector: dict[str, int] = {}
        self.clock = HybridClock()
        self.device_id = ""
        # Opening blocks (SQLCipher checks the key, a new file is migrated): from an event loop,
        # open the store in a thread.
        # The writer opens first: a new file is migrated before any reader looks at it. Readers
        # open at the first read, so a command that only writes opens one connection, not three.
        self._writer = ConnectionThreads(lambda: connect(path, key), name="fieldkit-writer", idle=self._look_for_others)
        self._readers: ConnectionThreads | None = None
        self._open_readers = lambda: ConnectionThreads(lambda: connect(path, key, reader=True),
                                                       name="fieldkit-reader", count=readers)
        self._opening = threading.Lock()
        try:
            self.device_id = self._identify(device_id)
        except BaseException:
            self.close()
            raise
        # Made again from the stored stamp, so that a wall clock reset behind it is reported.
        self.clock = HybridClock(int(self._writer.call(lambda conn: get_meta(conn, "hlc", 0))))

    def open_readers(self) -> None:
        """Open the reader connections now, from a thread: the first read from an event loop
        would otherwise open them there (a few milliseconds of blocking)."""
        _ = self._reading

    @property
    def _reading(self) -> ConnectionThreads:
        if self._readers is None:
            with self._opening:
                if self._readers is None:
                    self._readers = self._open_readers()
        return self._readers

    def _identify(self, device_id: str | None) -> str:
        """This laptop's device id, as stored; `device_id` is kept if the file has none yet."""
        stored = self._writer.call(lambda conn: get_meta(conn, "device_id"))
        if device_id is None:
            if not stored:
                raise FieldkitError("this database has no device identity (run `fieldkit init`)")
            return str(stored)
        if stored is None:
            self.write(lambda tx: tx.execute("INSERT OR IGNORE INTO meta VALUES ('device_id', ?)", (device_id,)))
        elif stored != device_id:
            raise FieldkitError("this database belongs to another device")
        return device_id

    def close(self) -> None:
        for threads in (self._readers, self._writer):
            if threads is not None:
                threads.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- running jobs ----------------------------------------------------------------------------

    def read(self, job: Callable[[Any], T]) -> T:
        """Run `job(connection)` on a reader, in one snapshot; the connection refuses writes."""
        return self._reading.call(_read(job))

    async def aread(self, job: Callable[[Any], T]) -> T:
        return await self._reading.run(_read(job))

    def write(self, job: Callable[[Transaction], T]) -> T:
        """Run `job(transaction)` on the writer: committed if it returns, rolled back if it raises."""
        return self._writer.call(lambda conn: self._transact(conn, job))

    async def awrite(self, job: Callable[[Transaction], T]) -> T:
        return await self._writer.run(lambda conn: self._transact(conn, job))

    def _transact(self, conn: Any, job: Callable[[Transaction], T]) -> T:
        tx = Transaction(conn, self.device_id, self.clock)
        with immediate(conn):
            result = job(tx)
            tx.finish()
            crashpoint("store.write.before_commit")
        crashpoint("store.write.after_commit")
        if tx.journalled:
            for entry in tx.journalled:
                self._seen_vector[entry.origin] = max(entry.seq, self._seen_vector.get(entry.origin, 0))
            self._tell(Committed(frozenset(e.origin for e in tx.journalled),
                                 frozenset(e.entity for e in tx.journalled)))
        return result

    # -- after-commit notices --------------------------------------------------------------------

    def subscribe(self, callback: Subscriber, *, loop: asyncio.AbstractEventLoop | None = None) -> Callable[[], None]:
        """Call `callback(Committed)` after each commit; on `loop` if given, else on the writer
        thread (keep it short). Returns the function that unsubscribes."""
        def on_loop(commit: Committed) -> None:
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(callback, commit)

        subscriber = callback if loop is None else on_loop
        with self._subscribed:
            self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            with self._subscribed:
                if subscriber in self._subscribers:
                    self._subscribers.remove(subscriber)
        return unsubscribe

    def _tell(self, commit: Committed) -> None:
        with self._subscribed:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(commit)
            except Exception:  # a subscriber's bug must not fail the write that has committed
                log.exception("a commit subscriber failed")

    def _look_for_others(self, conn: Any) -> None:
        """On the idle writer: has another process committed since we last looked?"""
        if not self._subscribers:
            self._seen_version = None
            return
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        if self._seen_version is None:
            self._seen_version, self._seen_vector = version, version_vector(conn)
            return
        if version == self._seen_version:
            return
        self._seen_version = version
        vector = version_vector(conn)
        grown = frozenset(origin for origin, seq in vector.items() if seq > self._seen_vector.get(origin, 0))
        self._seen_vector = vector
        self._tell(Committed(grown, None, external=True))

    # -- the journal: writing --------------------------------------------------------------------

    def append(self, changes: Sequence[Change], *, user: str) -> list[Entry]:
        """Journal, fold and audit a group of changes as one transaction; all or nothing."""
        return self.write(lambda tx: tx.append(changes, user=user))

    async def aappend(self, changes: Sequence[Change], *, user: str) -> list[Entry]:
        return await self.awrite(lambda tx: tx.append(changes, user=user))

    def ingest(self, entries: Iterable[Entry], checkpoints: Iterable[Checkpoint] = (),
               certificates: Mapping[str, bytes] | None = None, *, user: str = "sync") -> Ingested:
        """Journal and fold received entries this laptop lacks (Transaction.receive), all or nothing."""
        return self.write(self._receiving(entries, checkpoints, certificates, user))

    async def aingest(self, entries: Iterable[Entry], checkpoints: Iterable[Checkpoint] = (),
                      certificates: Mapping[str, bytes] | None = None, *, user: str = "sync") -> Ingested:
        return await self.awrite(self._receiving(entries, checkpoints, certificates, user))

    @staticmethod
    def _receiving(entries: Iterable[Entry], checkpoints: Iterable[Checkpoint],
                   certificates: Mapping[str, bytes] | None, user: str) -> Callable[[Transaction], Ingested]:
        # Materialised here, on the caller's thread: the writer must not iterate the caller's data.
        batch, proof, carried = list(entries), list(checkpoints), dict(certificates or {})
        return lambda tx: tx.receive(batch, checkpoints=proof, certificates=carried, user=user)

    def sign_checkpoints(self, sign: Callable[[bytes], bytes], every: int = CHECKPOINT_EVERY) -> int:
        """Sign our own chain every `every` entries and at its head, where not signed yet.

        Signed lazily, when a peer is about to be sent our entries, so saving stays free of it.
        """
        def job(tx: Transaction) -> int:
            seq = (chain_head(tx, self.device_id) or (0, ""))[0]
            done = tx.execute("SELECT max(seq) FROM checkpoints WHERE origin = ?", (self.device_id,)).fetchone()[0] or 0
            wanted = sorted({*range((done // every + 1) * every, seq + 1, every), seq} - {0}) if seq > done else []
            rows = []
            for at in wanted:
                digest = tx.execute("SELECT hash FROM journal WHERE origin = ? AND seq = ?",
                                    (self.device_id, at)).fetchone()[0]
                rows.append((self.device_id, at, digest, sign(checkpoint_message(self.device_id, at, digest))))
            tx.executemany("INSERT OR IGNORE INTO checkpoints VALUES (?, ?, ?, ?)", rows)
            return len(rows)
        return self.write(job)

    def add_certificate(self, device: str, certificate: bytes) -> None:
        self.write(lambda tx: tx.execute("INSERT OR REPLACE INTO devices VALUES (?, ?)", (device, certificate)))

    def record_peer(self, device: str, *, address: str, vector: Mapping[str, int] | None, sent: int = 0,
                    received: int = 0, error: str = "") -> None:
        """Remember a session with a peer: a success keeps its vector and time, a failure its reason."""
        def job(tx: Transaction) -> None:
            if vector is None:  # failed: keep what the last success learnt
                tx.execute("INSERT INTO peers VALUES (?, ?, '{}', NULL, 0, 0, ?) ON CONFLICT (device_id) DO UPDATE "
                           "SET address = excluded.address, error = excluded.error", (device, address, error))
            else:
                tx.execute("INSERT OR REPLACE INTO peers VALUES (?, ?, ?, strftime('%Y-%m-%dT%H:%M:%SZ'), ?, ?, '')",
                           (device, address, canonical(dict(vector)), sent, received))
        self.write(job)

    def set_meta(self, values: Mapping[str, Any]) -> None:
        """Several values set together or not at all (a network joined is key, certificate and id)."""
        self.write(lambda tx: tx.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(values.items())))

    def rebuild(self) -> Rebuilt:
        """Fold the whole journal again, with the state hash before and after in the same
        transaction: a save by another process meanwhile cannot pass for a changed state."""
        def job(tx: Transaction) -> Rebuilt:
            before = fold.state_hash(tx)
            return Rebuilt(fold.rebuild(tx.conn), before, fold.state_hash(tx))
        return self.write(job)

    # -- the journal: reading --------------------------------------------------------------------

    def version_vector(self) -> dict[str, int]:
        return self.read(version_vector)

    def entries_after(self, vector: Mapping[str, int], limit: int = 500) -> list[Entry]:
        """Entries the holder of `vector` lacks, each origin in sequence order, at most `limit`."""
        def job(conn: Any) -> list[Entry]:
            out: list[Entry] = []
            for origin, top in heads(conn):
                have = vector.get(origin, 0)
                if top > have and len(out) < limit:
                    out += [Entry(*row) for row in conn.execute(
                        "SELECT * FROM journal WHERE origin = ? AND seq > ? ORDER BY seq LIMIT ?",
                        (origin, have, limit - len(out)))]
            return out
        return self.read(job)

    def outgoing(self, vector: Mapping[str, int], limit: int = CHECKPOINT_EVERY) -> Outgoing:
        """The next batch for the holder of `vector` (outgoing.select)."""
        return self.read(lambda conn: select(_Tables(conn), vector, limit))

    def certificates(self) -> dict[str, bytes]:
        """Enrolment certificates of every origin whose entries we hold proof for."""
        return self.read(lambda conn: dict(conn.execute("SELECT id, certificate FROM devices").fetchall()))

    def revoked(self) -> set[str]:
        return self.read(lambda conn: {row[0] for row in conn.execute("SELECT device_id FROM revocations")})

    def hashes(self, points: Mapping[str, int]) -> dict[str, str]:
        """{origin: hash of its entry at that seq}, for the points held."""
        wanted = dict(points)

        def job(conn: Any) -> dict[str, str]:
            found = {origin: conn.execute("SELECT hash FROM journal WHERE origin = ? AND seq = ?",
                                          (origin, seq)).fetchone() for origin, seq in wanted.items()}
            return {origin: row[0] for origin, row in found.items() if row}
        return self.read(job)

    def user_revoked(self, user_id: str) -> bool:
        """Read on the writer's connection, as the device id is at opening: signing in asks it of
        every command, and a command that only writes should open no reader for it."""
        return self._writer.call(lambda conn: user_revoked(conn, user_id))

    def cutoffs(self) -> Cutoffs:
        """The revocations' cut-offs in force (store/holdback.py)."""
        return self.read(lambda conn: Cutoffs.from_rows(conn.execute("SELECT kind, subject, origin, seq FROM cutoffs")))

    def held(self) -> list[Entry]:
        """Entries held back from the fold, oldest first in each laptop's order, for a supervisor."""
        return self.read(lambda conn: [Entry(*row) for row in conn.execute(
            "SELECT journal.* FROM held JOIN journal USING (origin, seq) ORDER BY origin, seq")])

    def role_history(self, authors: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
        """(version, role) of every role each author was given, oldest first."""
        wanted = list(authors)

        def job(conn: Any) -> dict[str, list[tuple[str, str]]]:
            grants = {author: role_grants(conn.execute(
                "SELECT hlc, origin, data FROM journal WHERE entity_id = ? AND entity = 'user'", (author,)).fetchall())
                for author in wanted}
            return {author: granted for author, granted in grants.items() if granted}
        return self.read(job)

    def peers(self) -> list[dict[str, Any]]:
        def job(conn: Any) -> list[dict[str, Any]]:
            rows = conn.execute("SELECT device_id, address, vector, last_sync, sent, received, error FROM peers "
                                "ORDER BY device_id").fetchall()
            return [{"device": d, "address": a, "vector": parse(v), "last_sync": t, "sent": s, "received": r,
                     "error": e} for d, a, v, t, s, r, e in rows]
        return self.read(job)

    def get_meta(self, key: str, default: Any = None) -> Any:
        return self.read(lambda conn: get_meta(conn, key, default))

    def state_hash(self) -> str:
        return self.read(fold.state_hash)

    def verify_audit(self) -> audit.AuditReport:
        return self.read(audit.verify)

