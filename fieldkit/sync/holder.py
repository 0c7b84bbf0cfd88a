"""The one contract sync has with whatever holds journal entries: a laptop's store or the hub's.

The verifier, the LAN session, the forwarder and the hub's routes ask a holder only this, so the
two implementations (`fieldkit.store.db.Store`, `fieldkit.hub.storage.HubStorage`) answer the same
questions the same way, and batch selection is written once for both (`store/outgoing.py`).
Every method blocks: call it in a thread from the event loop.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol, runtime_checkable

from fieldkit.store.journal import Checkpoint, Entry
from fieldkit.store.outgoing import Outgoing
from fieldkit.store.transaction import Ingested


@runtime_checkable
class JournalHolder(Protocol):
    def version_vector(self) -> dict[str, int]:
        """{origin: highest contiguous seq held}."""

    def outgoing(self, vector: Mapping[str, int], limit: int) -> Outgoing:
        """The next batch the holder of `vector` lacks (outgoing.select)."""

    def certificates(self) -> dict[str, bytes]:
        """Enrolment certificates of the origins held, PEM."""

    def role_history(self, authors: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
        """(version, role) of every role each author was given, oldest first."""

    def revoked(self) -> set[str]:
        """Laptops revoked from the network."""

    def hashes(self, points: Mapping[str, int]) -> dict[str, str]:
        """{origin: hash of its entry at that seq}, for the points held (sync/forks.py)."""

    def ingest(self, entries: Iterable[Entry], checkpoints: Iterable[Checkpoint] = (),
               certificates: Mapping[str, bytes] | None = None) -> Ingested:
        """Store verified entries the holder lacks, with their proof, all or nothing."""
