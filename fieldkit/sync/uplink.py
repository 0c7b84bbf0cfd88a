"""Forwarding to the hub in the background, beside the LAN sync: the engine runs one `Uplink`.

The hub is the one `fieldkit hub push --url` remembered (meta `hub_url`); with none, the uplink
only counts what is pending. A round runs soon after the journal grows and at least every
`every` seconds. A round that fails waits longer each time (15 s doubling to 15 minutes,
jittered so that a fleet of laptops coming back online does not call the hub in step), and new
saves do not cut that wait short: a hub that is down is never called in a loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from fieldkit.errors import FieldkitError
from fieldkit.store.db import Store
from fieldkit.sync.forwarder import ATTEMPTS, HubClient, PushReport, backoff, push
from fieldkit.sync.hub_vector import last_success, pending
from fieldkit.sync.membership import Membership
from fieldkit.sync.waiting import woken


class Uplink:
    def __init__(self, store: Store, member: Membership, *, on_change: Callable[[], None] | None = None,
                 every: float = 300.0, soon: float = 5.0, first_wait: float = 15.0,
                 longest_wait: float = 900.0, attempts: int = ATTEMPTS) -> None:
        self.store, self.member = store, member
        self.every, self.soon, self.first_wait, self.longest_wait = every, soon, first_wait, longest_wait
        self.attempts = attempts  # tries per request within a round
        self._on_change = on_change or (lambda: None)
        self.url = ""
        self.status = "off"  # off (no hub configured), sending, sent, failed
        self.pending: int | None = None  # None until counted
        self.sent = 0  # in the round under way, or the last one
        self.last_success: datetime | None = None
        self.error = ""
        self.failures = 0  # rounds failed in a row
        self._due = time.monotonic()
        self._wake = asyncio.Event()
        self._vector: dict[str, int] = {}

    async def run(self) -> None:
        await self._count()
        while True:
            await self._until_due()
            self.url = await asyncio.to_thread(self.store.get_meta, "hub_url") or ""
            if self.url:
                await self._round()
            else:
                self.status, self._due = "off", time.monotonic() + self.every
            self._on_change()

    def grew(self, vector: Mapping[str, int]) -> None:
        """The journal holds `vector` now: forward soon if it grew, unless backing off from a failure."""
        if dict(vector) == self._vector:
            return
        self._vector = dict(vector)
        if self.failures == 0:
            self._due = min(self._due, time.monotonic() + self.soon)
        self._wake.set()

    def recount(self) -> None:
        """Count what is pending again (another process may have forwarded some)."""
        self._wake.set()

    async def _until_due(self) -> None:
        while (left := self._due - time.monotonic()) > 0:
            self._wake.clear()
            await woken(self._wake, left)
            if self._wake.is_set():
                await self._count()  # the journal grew: the header's count follows at once

    async def _count(self) -> None:
        self.pending, self.last_success = await self.store.aread(lambda conn: (pending(conn), last_success(conn)))
        self._on_change()

    async def _round(self) -> None:
        self.status, self.sent, self.error = "sending", 0, ""
        self._on_change()
        try:
            report = await push(self.store, self.member, self.url, progress=self._progress,
                                client=HubClient(self.url, self.member, attempts=self.attempts))
        except FieldkitError as exc:
            self.failures += 1
            self.status, self.error = "failed", str(exc)
            self._due = time.monotonic() + backoff(self.failures - 1, first=self.first_wait, longest=self.longest_wait)
            await self._count()  # what the acks before the failure took off the count
            return
        self.failures, self.status = 0, "sent"
        self.sent, self.pending = report.sent, report.pending
        self.last_success = datetime.now(UTC)
        # Saves made while the round ran are forwarded soon, not at the next full round.
        self._due = time.monotonic() + (self.soon if report.pending else self.every)

    def _progress(self, report: PushReport) -> None:
        self.sent, self.pending = report.sent, report.pending
        self._on_change()
