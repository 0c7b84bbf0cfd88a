"""The hub's replica: the laptops' own fold of every entry the hub holds, kept beside its storage.

The hub stores what laptops upload verbatim and folds nothing (hub/storage.py). Programme managers'
reports must count what a laptop would count from the same entries, so the hub keeps a replica: a
clinic database (fieldkit.store's `Store`: SQLCipher, the journal, the fold) that receives the
hub's entries exactly as a laptop receives a peer's, in the hub's own order, batch by batch
(`storage.outgoing`, the sync protocol's batch selection). It writes no entry of its own. The
reporting tables are copied from its folded tables (hub/reporting.py), and the FHIR export reads
it as it reads a laptop's database.

Refreshing is incremental and idempotent: the replica's version vector says what it holds, each
batch is folded in one transaction, so a refresh cut anywhere resumes where the last commit left
it, and two processes refreshing one replica at once fold each entry once. The running hub
refreshes in the background a moment after each accepted upload (`Refresher`: later uploads
meanwhile join the same refresh), never on a request's path; `fieldkit hub refresh` does it on
demand.

The replica is a file in the hub's data directory (`replica.db`), encrypted with the hub's key:
the same key as the SQLite store (FIELDKIT_HUB_KEY or `key_file`, off the data directory's disk).
A hub on PostgreSQL has no SQLite store to share a key with, so it needs that key given the same
way for its replica; one without keeps serving uploads and reports from the tables as they are,
and says once in its log that it does not refresh them. Several hub processes sharing one
PostgreSQL each keep a replica of their own; their copies agree (hub/reporting.py).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from fieldkit.hub import reporting
from fieldkit.hub.settings import HubSettings
from fieldkit.hub.storage import HubStorage
from fieldkit.store import fold
from fieldkit.store.db import Store, Transaction
from fieldkit.store.outgoing import Outgoing

log = logging.getLogger("fieldkit.hub.replica")

FILE = "replica.db"
DEVICE = "hub-replica"  # the replica's device id: it is never an origin, the replica writes no entries
CHUNK = 2000  # entries folded per transaction


class Replica:
    """An open replica; `store` is read like any clinic database (`store.read(job)`)."""

    def __init__(self, path: Path, key: bytes) -> None:
        self.path = path
        self.store = Store(path, key, device_id=DEVICE)
        self.refreshing = threading.Lock()  # one refresh at a time in this process
        try:
            reporting.prepare(self.store)
        except BaseException:
            self.store.close()
            raise

    @classmethod
    def open(cls, settings: HubSettings) -> "Replica":
        """The replica in the hub's data directory, under the hub's key (FieldkitError without one)."""
        return cls(settings.data / FILE, settings.stored_key())

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Replica":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ingest(self, batch: Outgoing) -> int:
        """Fold one batch the hub sent, and mark what it touched, in one transaction."""
        def job(tx: Transaction) -> int:
            # A batch that may fold everything again may change or drop any row: mark them all.
            before = reporting.everything(tx) if reporting.refolds(batch.entries) else set()
            received = tx.receive(batch.entries, checkpoints=batch.checkpoints, certificates=batch.certificates,
                                  user=DEVICE)
            reporting.mark(tx, batch.entries, before | reporting.everything(tx) if before else ())
            return received.applied
        return self.store.write(job)

    def rebuild(self) -> int:
        """Fold the replica's journal again from scratch (a newer fieldkit's fold), marking every
        record for the next copy; returns the entries folded."""
        def job(tx: Transaction) -> int:
            before = reporting.everything(tx)
            folded = fold.rebuild(tx.conn)
            reporting.mark(tx, (), before | reporting.everything(tx))
            return folded
        return self.store.write(job)


def refresh(storage: HubStorage, replica: Replica, *, limit: int = CHUNK,
            stop: Callable[[], bool] | None = None) -> int:
    """Fold what the replica lacks of the hub's entries, batch by batch, copying what each batch
    changed into the reporting tables; returns the entries folded. `stop` is asked between batches."""
    with replica.refreshing:
        reporting.copy(storage, replica.store)  # whatever a cut refresh left to copy
        folded = 0
        while not (stop and stop()):
            batch = storage.outgoing(replica.store.version_vector(), limit)
            if not batch.entries:
                break
            folded += replica.ingest(batch)
            reporting.copy(storage, replica.store)
        return folded


class Refresher:
    """Refreshes the replica in a worker thread a moment (`delay` seconds) after it is poked; pokes
    that come meanwhile, or while a refresh runs, make one more refresh, never a queue of them."""

    def __init__(self, storage: HubStorage, replica: Replica, delay: float) -> None:
        self.storage, self.replica, self.delay = storage, replica, delay
        self._wanted = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.refreshed = 0  # refreshes finished, for the tests and the log

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="fieldkit-replica")
        self.poke()  # what arrived while the hub was stopped

    def poke(self) -> None:
        self._wanted.set()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            await self._wanted.wait()
            try:  # the debounce: uploads arriving in the meantime are folded by the same refresh
                await asyncio.wait_for(self._stopping.wait(), self.delay)
            except TimeoutError:
                pass
            if self._stopping.is_set():
                return
            self._wanted.clear()
            try:
                folded = await asyncio.to_thread(refresh, self.storage, self.replica, stop=self._stopping.is_set)
            except Exception:  # nothing here may stop uploads: the next upload retries
                log.exception("the reports' refresh failed; the next upload starts another")
            else:
                self.refreshed += 1
                if folded:
                    log.info('{"replica": "refreshed", "entries": %d}', folded)

    async def stop(self) -> None:
        """Stop after the batch being folded, if any (the next refresh resumes from there)."""
        self._stopping.set()
        self._wanted.set()  # wakes a refresher waiting for work
        if self._task is not None:
            await self._task
