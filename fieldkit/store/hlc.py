"""Hybrid logical clock (Kulkarni et al. 2014): wall-clock milliseconds that never run backwards.

A timestamp is one 64-bit integer, milliseconds since the epoch shifted left 16 bits plus a
16-bit counter, so it sorts as a number and fits one SQLite INTEGER. Ties between devices are
broken by the origin id wherever an order is needed, never by the clock alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

COUNTER_BITS = 16
COUNTER_MASK = (1 << COUNTER_BITS) - 1
# A remote stamp further ahead than this is kept on its entry but does not drag our clock: one
# laptop with a wrong date must not push every peer's clock into the future.
MAX_DRIFT_MS = 5 * 60 * 1000


def pack(millis: int, counter: int = 0) -> int:
    return (millis << COUNTER_BITS) | counter


def millis(stamp: int) -> int:
    return stamp >> COUNTER_BITS


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class ClockReport:
    """What the clock noticed: shown to the user, never acted on silently."""

    behind_ms: int = 0  # the wall clock is this far behind the last persisted stamp (RTC reset)
    suspect_remote_ms: int = 0  # largest lead of a remote stamp over our wall clock


class HybridClock:
    """Issues monotonic stamps; `last` is persisted by the store after each use."""

    def __init__(self, last: int = 0, wall: Callable[[], int] = wall_ms) -> None:
        self.last = last
        self._wall = wall
        self.report = ClockReport()
        behind = millis(last) - wall()
        if behind > 1000:
            self.report.behind_ms = behind

    def now(self) -> int:
        physical = pack(self._wall())
        self.last = physical if physical > self.last else self.last + 1
        return self.last

    def observe(self, remote: int) -> bool:
        """Merge a received stamp; return False when it is too far ahead to be trusted."""
        wall = self._wall()
        lead = millis(remote) - wall
        if lead > MAX_DRIFT_MS:
            self.report.suspect_remote_ms = max(self.report.suspect_remote_ms, lead)
            return False
        if remote > self.last:
            self.last = remote
        return True
