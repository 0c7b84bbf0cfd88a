"""The background sync engine: serve, discover, and sync with peers as they appear.

`fieldkit sync serve` runs it headless and the TUI runs it beside the screens; both read the same
`peers` and `history`. A peer is called when it is first seen, as soon as our journal grows (the
store tells the engine after each commit, this process's or another's on the same file), and at
least every `full_every` seconds (to collect what it holds that it could not push to us).
Sessions it accepts count too: a peer that just synced with us is not called back for nothing.
Beside the peers, its `uplink` forwards to the hub when one is configured.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from fieldkit.errors import FieldkitError
from fieldkit.store.db import Committed, Store
from fieldkit.store.heads import version_vector
from fieldkit.sync.discovery import Discovery, Sighting
from fieldkit.sync.hub_vector import lacking
from fieldkit.sync.membership import Membership
from fieldkit.sync.messages import PROTOCOL
from fieldkit.sync.peer import Server, sync_with
from fieldkit.sync.session import Report
from fieldkit.sync.uplink import Uplink
from fieldkit.sync.waiting import woken

RETRY_AFTER = 10.0  # seconds before calling again a peer whose last session failed


@dataclass
class PeerState:
    device: str
    address: str = ""
    status: str = "seen"  # seen, syncing, synced, failed
    sent: int = 0
    received: int = 0
    to_send: int = 0
    to_receive: int = 0
    last_sync: float | None = None  # wall-clock seconds of the last session that completed
    error: str = ""
    clock_suspect: bool = False
    _synced_vector: dict[str, int] = field(default_factory=dict, repr=False)
    _synced_at: float = field(default=0.0, repr=False)  # monotonic

    @property
    def done(self) -> int:
        return self.sent + self.received

    @property
    def total(self) -> int:
        return self.to_send + self.to_receive


@dataclass(frozen=True)
class Event:
    """One line of sync history: a session that completed or failed."""

    at: float
    device: str
    sent: int
    received: int
    error: str = ""


class Engine:
    def __init__(self, store: Store, member: Membership, *, host: str = "0.0.0.0", port: int = 0,
                 interfaces: list[str] | None = None, interval: float = 10.0, full_every: float = 60.0,
                 discover: bool = True, on_change: Callable[[], None] | None = None) -> None:
        self.store, self.member = store, member
        self.interval, self.full_every = interval, full_every
        self.peers: dict[str, PeerState] = {}
        self.history: deque[Event] = deque(maxlen=100)
        self._on_change = on_change or (lambda: None)
        self.server = Server(store, member, host=host, port=port, on_session=self._accepted,
                             progress=self._progress)
        self._interfaces, self._discover = interfaces, discover
        self.discovery: Discovery | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._busy: set[str] = set()
        self.problem = ""  # why discovery is off, in words; peers can still call us
        self.uplink = Uplink(store, member, on_change=self._on_change)
        self._uplink_task: asyncio.Task | None = None
        self._unsubscribe: Callable[[], None] = lambda: None

    @property
    def port(self) -> int:
        return self.server.port

    async def start(self) -> None:
        self._unsubscribe = self.store.subscribe(self._committed, loop=asyncio.get_running_loop())
        await self.server.start()
        if self._discover:
            self.discovery = Discovery(network_id=self.member.network.id, device_id=self.member.device_id,
                                       port=self.server.port, protocol=PROTOCOL, interfaces=self._interfaces,
                                       on_change=self._discovered)
            try:
                await self.discovery.start()
            except FieldkitError as exc:
                self.discovery, self.problem = None, str(exc)
        self._task = asyncio.create_task(self._run())
        self._uplink_task = asyncio.create_task(self.uplink.run())

    async def stop(self) -> None:
        self._unsubscribe()
        for task in (self._task, self._uplink_task):
            if task:
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
        if self.discovery:
            await self.discovery.stop()
        await self.server.stop()

    async def __aenter__(self) -> "Engine":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    def _discovered(self) -> None:
        self._wake.set()
        self._on_change()

    def _committed(self, commit: Committed) -> None:
        """The journal grew (a save, a batch received, another process's write): tell peers now."""
        if commit.origins:
            self._wake.set()
        elif commit.external:  # another process moved only local state, such as the hub's acks
            self.uplink.recount()

    def sightings(self) -> list[Sighting]:
        return self.discovery.peers() if self.discovery else []

    async def _run(self) -> None:
        while True:
            await woken(self._wake, self.interval)
            self._wake.clear()
            ours = await self.store.aread(version_vector)
            self.uplink.grew(ours)
            for sighting in self.sightings():
                # A peer whose own session with us is under way is told everything in it: what
                # it sent us and we just committed must not send us straight back to it.
                busy = self._busy | self.server.in_session
                if sighting.device_id not in busy and self._due(sighting, ours):
                    await self._call(sighting)

    def _due(self, sighting: Sighting, ours: dict[str, int]) -> bool:
        state = self.peers.get(sighting.device_id)
        if state is None:
            return True
        age = time.monotonic() - state._synced_at
        if state.status == "failed":
            return age > RETRY_AFTER
        return lacking(state._synced_vector, ours) > 0 or age > self.full_every

    def _state(self, device: str) -> PeerState:
        return self.peers.setdefault(device, PeerState(device))

    async def _call(self, sighting: Sighting) -> Report | None:
        state = self._state(sighting.device_id)
        state.address = f"{sighting.host}:{sighting.port}"
        state.status, state.error = "syncing", ""
        self._busy.add(sighting.device_id)
        self._on_change()
        try:
            report = await sync_with(self.store, self.member, sighting.host, sighting.port,
                                     expect=sighting.device_id, progress=self._progress)
        except FieldkitError as exc:
            self._failed(state, str(exc))
            return None
        finally:
            self._busy.discard(sighting.device_id)
        self._finished(state, report)
        return report

    def _progress(self, report: Report) -> None:
        state = self._state(report.peer)
        state.sent, state.received = report.sent, report.received
        state.to_send, state.to_receive = report.to_send, report.to_receive
        self._on_change()

    def _finished(self, state: PeerState, report: Report) -> None:
        state.status, state.error, state.last_sync = "synced", "", time.time()
        state.sent, state.received = report.sent, report.received
        state.to_send, state.to_receive = report.sent, report.received
        state.clock_suspect = report.clock_suspect
        state._synced_vector, state._synced_at = report.peer_vector, time.monotonic()
        self.history.appendleft(Event(time.time(), state.device, report.sent, report.received))
        self._on_change()
        # A save made while this peer was in session was not offered to it then (it was busy),
        # and its notice is spent: look again now that the peer's vector is known.
        self._wake.set()

    def _failed(self, state: PeerState, error: str) -> None:
        state.status, state.error, state._synced_at = "failed", error, time.monotonic()
        self.history.appendleft(Event(time.time(), state.device, 0, 0, error))
        self._on_change()

    def _accepted(self, report: Report | None, address: str, error: Exception | None) -> None:
        if report is not None:
            state = self._state(report.peer)
            state.address = state.address or address
            self._finished(state, report)
        elif error is not None:
            self.history.appendleft(Event(time.time(), "", 0, 0, f"{address}: {error}"))
            self._on_change()
