"""Two laptops writing as one (security.md T11, T12): a cloned data directory, or a laptop restored
from an old copy, both go on numbering entries from the same point, so one sequence number of
one origin comes to name two different entries. Version vectors alone cannot tell: each side
only counts. So each hello also carries the hash of every origin's entry at the sequence number
its vector gives, and whoever holds that entry compares. A fork refuses the session whole:
nothing is exchanged or deleted, and the refusal (kept with the peer, shown on the sync screen and
in `sync status`) is the supervisor's alert.
"""

from __future__ import annotations

from collections.abc import Mapping

from fieldkit.sync.holder import JournalHolder
from fieldkit.sync.verify import Refused


def forked(holder: JournalHolder, ours: Mapping[str, int], vector: Mapping[str, int],
           heads: Mapping[str, str]) -> list[tuple[str, int]]:
    """(origin, seq) where the other side's entry differs from the one this holder (whose vector
    is `ours`) keeps."""
    points = {origin: seq for origin, seq in vector.items() if origin in heads and 0 < seq <= ours.get(origin, 0)}
    mine = holder.hashes(points)
    return sorted((origin, points[origin]) for origin in points if mine.get(origin, heads[origin]) != heads[origin])


def refuse_forks(holder: JournalHolder, ours: Mapping[str, int], vector: Mapping[str, int],
                 heads: Mapping[str, str]) -> None:
    forks = forked(holder, ours, vector, heads)
    if forks:
        where = ", ".join(f"laptop {origin[:8]} at #{seq}" for origin, seq in forks)
        raise Refused(f"two laptops write as one ({where}): a cloned laptop, or one restored from an old "
                      "copy; nothing was exchanged or deleted. A supervisor must revoke one of them")
