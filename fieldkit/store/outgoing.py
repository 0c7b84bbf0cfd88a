"""The next batch for a peer: written once, for the laptop's store and the hub's storage alike.

A batch holds about `limit` entries the other side lacks, origin by origin, and each origin's run
ends on a checkpoint that origin signed, so the receiver checks one signature per run (a batch may
therefore run past `limit` by one checkpoint spacing). An origin never signed (a laptop not yet in
a network) is skipped: nobody could verify its entries. A certificate rides along only to a holder
of none of its origin's entries: one that holds any has verified them with it, and kept it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from fieldkit.store.journal import Checkpoint, Entry


@dataclass
class Outgoing:
    """One batch for a peer: entries, the checkpoints that end each origin's run, their certificates."""

    entries: list[Entry]
    checkpoints: list[Checkpoint]
    certificates: dict[str, bytes]


class JournalTables(Protocol):
    """What a holder's tables answer while a batch is chosen (one read transaction)."""

    def heads(self) -> Iterable[tuple[str, int]]:
        """(origin, highest seq held) of every origin, in origin order."""

    def signed_after(self, origin: str, seq: int) -> list[tuple[int, str, bytes]]:
        """(seq, hash, signature) of the origin's checkpoints after `seq`, in order."""

    def entries(self, origin: str, after: int, upto: int) -> list[Entry]:
        """The origin's entries after `after` up to and including `upto`, in order."""

    def certificate(self, origin: str) -> bytes | None:
        """The origin's enrolment certificate, if held."""


def select(tables: JournalTables, vector: Mapping[str, int], limit: int) -> Outgoing:
    batch = Outgoing([], [], {})
    for origin, top in tables.heads():
        have = vector.get(origin, 0)
        room = limit - len(batch.entries)
        if top <= have or room <= 0:
            continue
        signed = tables.signed_after(origin, have)
        ends = [row for row in signed if row[0] - have <= room] or signed[:1]
        if not ends:
            continue  # never signed: nothing a peer could verify
        end, digest, signature = ends[-1]
        batch.entries += tables.entries(origin, have, end)
        batch.checkpoints.append(Checkpoint(origin, end, digest, signature))
        if have == 0 and (certificate := tables.certificate(origin)):
            batch.certificates[origin] = certificate
    return batch
