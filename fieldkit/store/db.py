"""An unlocked clinic database: the writer thread, this device's clock, journal head and audit head.

Everything that touches the connection runs on the writer thread; the public methods hand it a
job and wait. `append` is the only way a local change enters the journal and `apply_remote` the
only way a received one does; both fold in the same transaction, so tables never lag the journal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence, TypeVar

from fieldkit.errors import FieldkitError
from fieldkit.store import audit, fold
from fieldkit.store.connection import connect
from fieldkit.store.hlc import HybridClock
from fieldkit.store.journal import (GENESIS, Checkpoint, Entry, canonical, checkpoint_message, count_held, make_entry, parse,
                                    plan_chain, role_grants)
from fieldkit.store.writer import Writer

T = TypeVar("T")
# An origin signs its chain at least this often, so a batch can always end on a signed entry:
# often enough for the small batches of a satellite link to the hub (64 bytes per 50 entries).
CHECKPOINT_EVERY = 50


@dataclass(frozen=True)
class Change:
    """One entity change a service wants journalled; the store stamps, chains and folds it."""

    entity: str
    entity_id: str
    op: str
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Outgoing:
    """One batch for a peer: entries, the checkpoints that end each origin's run, their certificates."""

    entries: list[Entry]
    checkpoints: list[Checkpoint]
    certificates: dict[str, bytes]


@dataclass
class ApplyResult:
    applied: int = 0
    already_held: int = 0
    suspect_clock: list[str] = field(default_factory=list)  # origins whose stamps ran far ahead


def _journal_and_fold(conn, entries: list[Entry]) -> None:
    # Journalled first, in one statement: the fold reads an entity's writes back from the journal.
    conn.executemany("INSERT INTO journal VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [e.row() for e in entries])
    fold.apply(conn, entries)


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

    def apply_remote(self, entries: Iterable[Entry], *, user: str = "sync", checkpoints: Iterable[Checkpoint] = (),
                     certificates: Mapping[str, bytes] | None = None) -> ApplyResult:
        """Verify received entries against our chains, then journal and fold the new ones.

        A tampered entry, a gap or a broken link refuses the whole batch and changes nothing;
        entries we already hold are skipped, so re-sending a batch is harmless. The checkpoints and
        certificates that proved the batch (checked by the caller) are kept in the same transaction.
        """
        return self.writer.call(self._remote_job(entries, user, checkpoints, certificates))

    async def aapply_remote(self, entries: Iterable[Entry], *, user: str = "sync",
                            checkpoints: Iterable[Checkpoint] = (),
                            certificates: Mapping[str, bytes] | None = None) -> ApplyResult:
        return await self.writer.run(self._remote_job(entries, user, checkpoints, certificates))

    def _remote_job(self, entries, user, checkpoints, certificates) -> Callable[[Any], ApplyResult]:
        # Materialised here, on the caller's thread: the writer must not iterate the caller's data.
        batch, proof = list(entries), (list(checkpoints), dict(certificates or {}))
        return lambda conn: self._apply_remote(conn, batch, user, proof)

    def _apply_remote(self, conn, batch: list[Entry], user: str, proof=((), {})) -> ApplyResult:
        heads = {}
        for origin in {e.origin for e in batch}:
            row = conn.execute("SELECT seq, hash FROM journal WHERE origin = ? ORDER BY seq DESC LIMIT 1",
                               (origin,)).fetchone()
            if row:
                heads[origin] = row
        result = ApplyResult(already_held=count_held(batch, heads, lambda origin, seq: conn.execute(
            "SELECT hash FROM journal WHERE origin = ? AND seq = ?", (origin, seq)).fetchone()[0]))
        fresh = plan_chain(batch, heads)
        if not fresh:
            return result
        head = self._audit
        conn.execute("BEGIN IMMEDIATE")
        try:
            _journal_and_fold(conn, fresh)
            checkpoints, certificates = proof
            conn.executemany("INSERT OR IGNORE INTO checkpoints VALUES (?, ?, ?, ?)",
                             [(c.origin, c.seq, c.hash, c.signature) for c in checkpoints])
            conn.executemany("INSERT OR IGNORE INTO devices VALUES (?, ?)", certificates.items())
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

    def sign_checkpoints(self, sign: Callable[[bytes], bytes], every: int = CHECKPOINT_EVERY) -> int:
        """Sign our own chain every `every` entries and at its head, where not signed yet.

        Signed lazily, when a peer is about to be sent our entries, so saving stays free of it.
        """
        def job(conn) -> int:
            seq, _ = self._head
            done = conn.execute("SELECT max(seq) FROM checkpoints WHERE origin = ?", (self.device_id,)).fetchone()[0] or 0
            wanted = sorted({*range((done // every + 1) * every, seq + 1, every), seq} - {0}) if seq > done else []
            rows = []
            for at in wanted:
                digest = conn.execute("SELECT hash FROM journal WHERE origin = ? AND seq = ?",
                                      (self.device_id, at)).fetchone()[0]
                rows.append((self.device_id, at, digest, sign(checkpoint_message(self.device_id, at, digest))))
            conn.executemany("INSERT OR IGNORE INTO checkpoints VALUES (?, ?, ?, ?)", rows)
            return len(rows)
        return self.writer.call(job)

    def outgoing(self, vector: Mapping[str, int], limit: int = CHECKPOINT_EVERY) -> Outgoing:
        """The next batch for the holder of `vector`: about `limit` entries it lacks, each origin's
        run ending on a signed checkpoint (so one batch may run past `limit` by one spacing)."""
        def job(conn) -> Outgoing:
            batch = Outgoing([], [], {})
            for origin, top in conn.execute("SELECT origin, max(seq) FROM journal GROUP BY origin ORDER BY origin"):
                have = vector.get(origin, 0)
                if top <= have or len(batch.entries) >= limit:
                    continue
                signed = conn.execute("SELECT seq, hash, signature FROM checkpoints WHERE origin = ? AND seq > ? "
                                      "ORDER BY seq", (origin, have)).fetchall()
                room = limit - len(batch.entries)
                ends = [row for row in signed if row[0] - have <= room] or signed[:1]
                if not ends:
                    continue  # never signed (not yet part of a network): nothing a peer could verify
                end, digest, signature = ends[-1]
                batch.entries += [Entry(*row) for row in conn.execute(
                    "SELECT * FROM journal WHERE origin = ? AND seq > ? AND seq <= ? ORDER BY seq", (origin, have, end))]
                batch.checkpoints.append(Checkpoint(origin, end, digest, signature))
                # A holder of any of this origin's entries verified them with its certificate, and kept it.
                certificate = have == 0 and conn.execute("SELECT certificate FROM devices WHERE id = ?",
                                                         (origin,)).fetchone()
                if certificate:
                    batch.certificates[origin] = certificate[0]
            return batch
        return self.read(job)

    def certificates(self) -> dict[str, bytes]:
        """Enrolment certificates of every origin whose entries we hold proof for."""
        return self.read(lambda conn: dict(conn.execute("SELECT id, certificate FROM devices")))

    def add_certificate(self, device: str, certificate: bytes) -> None:
        self.read(lambda conn: conn.execute("INSERT OR REPLACE INTO devices VALUES (?, ?)", (device, certificate)))

    def revoked(self) -> set[str]:
        return self.read(lambda conn: {row[0] for row in conn.execute("SELECT device_id FROM revocations")})

    def role_history(self, authors: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
        """(version, role) of every role each author was given, oldest first."""
        wanted = list(authors)

        def job(conn):
            grants = {author: role_grants(conn.execute(
                "SELECT hlc, origin, data FROM journal WHERE entity_id = ? AND entity = 'user'", (author,)))
                for author in wanted}
            return {author: granted for author, granted in grants.items() if granted}
        return self.read(job)

    def record_peer(self, device: str, *, address: str, vector: Mapping[str, int] | None, sent: int = 0,
                    received: int = 0, error: str = "") -> None:
        """Remember a session with a peer: a success keeps its vector and time, a failure its reason."""
        def job(conn):
            if vector is None:  # failed: keep what the last success learnt
                conn.execute("INSERT INTO peers VALUES (?, ?, '{}', NULL, 0, 0, ?) ON CONFLICT (device_id) DO UPDATE "
                             "SET address = excluded.address, error = excluded.error", (device, address, error))
            else:
                conn.execute("INSERT OR REPLACE INTO peers VALUES (?, ?, ?, strftime('%Y-%m-%dT%H:%M:%SZ'), ?, ?, '')",
                             (device, address, canonical(dict(vector)), sent, received))
        self.read(job)

    def peers(self) -> list[dict[str, Any]]:
        def job(conn):
            rows = conn.execute("SELECT device_id, address, vector, last_sync, sent, received, error FROM peers "
                                "ORDER BY device_id").fetchall()
            return [{"device": d, "address": a, "vector": parse(v), "last_sync": t, "sent": s, "received": r,
                     "error": e} for d, a, v, t, s, r, e in rows]
        return self.read(job)

    def get_meta(self, key: str, default: Any = None) -> Any:
        row = self.read(lambda conn: conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone())
        return row[0] if row else default

    def set_meta(self, values: Mapping[str, Any]) -> None:
        """Several values set together or not at all (a network joined is key, certificate and id)."""
        def job(conn):
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", values.items())
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        self.read(job)

    def state_hash(self) -> str:
        return self.read(fold.state_hash)

    def rebuild(self) -> int:
        return self.read(fold.rebuild)

    def verify_audit(self) -> audit.AuditReport:
        return self.read(audit.verify)
