"""Sync status, always in view, and the sync screen the sync engine fills.

The app owns one `SyncState`; whoever learns something about peers or the hub replaces it (the
engine's callback, the hub count), and every screen's `StatusBar` redraws. Sync code never
touches a screen, and screens never ask sync anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Footer, Static

from fieldkit.i18n import N_, _, digits, ngettext, number
from fieldkit.tui.bars import bar
from fieldkit.tui.base import ClinicScreen, clinic_app

if TYPE_CHECKING:
    from fieldkit.sync.engine import Engine

STATUS_WORDS = {"seen": N_("seen"), "syncing": N_("syncing"), "synced": N_("synced"), "failed": N_("failed")}
PROGRESS_WIDTH = 24


@dataclass(frozen=True)
class PeerLine:
    device: str
    address: str = ""
    status: str = "seen"
    done: int = 0
    total: int = 0
    last_sync: datetime | None = None
    error: str = ""
    clock_suspect: bool = False


@dataclass(frozen=True)
class SyncState:
    network: str = ""  # the network's name; empty when this laptop is in none
    peers: tuple[PeerLine, ...] = ()  # peers seen on the LAN or heard from
    last_sync: datetime | None = None
    pending_for_hub: int = 0
    hub: str = ""  # the hub's URL; empty when none is configured
    hub_last: datetime | None = None  # when a round with the hub last finished
    hub_error: str = ""  # why the last round with the hub failed
    history: tuple[str, ...] = field(default=())
    problem: str = ""  # why the LAN is not being searched, in words
    refused: int = 0  # connections refused before a session (another network, no certificate, old TLS)

    class Changed(Message):
        def __init__(self, state: "SyncState") -> None:
            super().__init__()
            self.state = state

    def with_(self, **changes) -> "SyncState":
        return replace(self, **changes)

    @property
    def summary(self) -> str:
        return self.summaries()[0]

    def summaries(self) -> list[str]:
        """The sync state in words, longest first: the status bar shows the first that fits."""
        peers = len(self.peers)
        seen = ngettext("{n} peer", "{n} peers", peers).format(n=digits(str(peers))) if peers else _("offline")
        last = clock(self.last_sync) if self.last_sync else _("never")
        hub = clock(self.hub_last) if self.hub_last else _("never")
        pending = number(self.pending_for_hub)
        return [_("{seen} · synced {last} · hub {hub}, {pending} pending").format(
                    seen=seen, last=last, hub=hub, pending=pending),
                _("{seen} · synced {last} · {pending} pending").format(seen=seen, last=last, pending=pending),
                _("{pending} pending").format(pending=pending)]


def clock(moment: datetime) -> str:
    """The time if it was today, else the date: a hub last reached days ago must look it."""
    local = moment.astimezone() if moment.tzinfo else moment
    return digits(local.strftime("%H:%M" if local.date() == datetime.now().date() else "%Y-%m-%d"))


def peer_lines(peer: PeerLine) -> list[str]:
    """A peer in words: who, where, how it went; a progress bar while entries move."""
    state = _(STATUS_WORDS.get(peer.status, peer.status))
    if peer.last_sync and peer.status != "syncing":
        state = _("{state} at {time}").format(state=state, time=clock(peer.last_sync))
    lines = [f"  {peer.device[:8]}  {peer.address}  {state}"]
    if peer.status == "syncing" and peer.total:
        lines.append(f"    {bar(peer.done, peer.total, PROGRESS_WIDTH):{PROGRESS_WIDTH}} "
                     f"{number(peer.done)}/{number(peer.total)}")
    if peer.error:
        lines.append("    " + peer.error)
    if peer.clock_suspect:
        lines.append("    " + _("its clock is far from this laptop's: check the date on both"))
    return lines


def sync_state(engine: Engine, before: SyncState) -> SyncState:
    """What the engine knows now, as the screens show it."""
    seen = {s.device_id for s in engine.sightings()}
    peers = tuple(PeerLine(p.device, p.address, p.status, p.done, p.total,
                           datetime.fromtimestamp(p.last_sync) if p.last_sync else None, p.error, p.clock_suspect)
                  for p in engine.peers.values())
    peers += tuple(PeerLine(device) for device in sorted(seen - engine.peers.keys()))
    history = tuple(
        f"{clock(datetime.fromtimestamp(e.at))} {e.device[:8] or '?'}: " + (
            e.error if e.error else _("sent {sent}, received {received}").format(sent=number(e.sent),
                                                                                received=number(e.received)))
        for e in engine.history)
    done = [p.last_sync for p in peers if p.last_sync]
    uplink = engine.uplink
    return before.with_(network=engine.member.network.name, peers=peers, history=history, refused=engine.server.refused,
                        last_sync=max(done) if done else before.last_sync, problem=engine.problem,
                        pending_for_hub=before.pending_for_hub if uplink.pending is None else uplink.pending,
                        hub=uplink.url, hub_last=uplink.last_success or before.hub_last,
                        hub_error=uplink.error)


def hub_lines(state: SyncState) -> list[str]:
    """Where the hub is, when it last took our entries, and why the last try failed."""
    if state.hub:
        lines = [_("Hub: {url}").format(url=state.hub)]
    else:
        lines = [_("Hub: none yet (fieldkit hub push --url https://HOST:7400)")]
    lines.append("  " + _("Pending for hub: {n}").format(n=number(state.pending_for_hub)))
    if state.hub_last:
        lines.append("  " + _("last success {time}").format(time=clock(state.hub_last)))
    if state.hub_error:
        lines.append("  " + state.hub_error)
    return lines


class StatusBar(Static):
    """One line at the top of every screen: who is signed in, and the sync state in words."""

    DEFAULT_CSS = """
    StatusBar { dock: top; height: 1; background: $panel; color: $text; padding: 0 1; }
    """

    def on_mount(self) -> None:
        self.watch(self.app, "sync_state", self._redraw)
        self.watch(self.app, "signed_in", self._redraw)

    def on_resize(self) -> None:
        self._redraw()

    def _redraw(self, _changed: object = None) -> None:
        """The longest line that fits: at 80 columns a long name, role and sync state in Vietnamese
        do not, and the count of entries waiting for the hub must never be what is cut."""
        app = clinic_app(self)
        who = app.signed_in or _("locked")
        room = max(self.size.width - 2, 0) if self.size.width else 10**6  # less its padding
        lines = [f"{head}{who} · {summary}" for summary in app.sync_state.summaries() for head in ("fieldkit · ", "")]
        self.update(next((line for line in lines if cell_len(line) <= room), lines[-1]))


class SyncScreen(ClinicScreen):
    """Peers, progress and history; the mesh sync fills it through SyncState alone."""

    BINDINGS = [
        Binding("e", "app.enrol", N_("Enrol a laptop"), id="enrol"),
        Binding("l", "app.network", N_("Laptops"), id="network"),
        Binding("escape", "app.pop_screen", N_("Back"), id="back"),
    ]

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Static(id="sync-body")
        yield Footer()

    def on_mount(self) -> None:
        self.watch(self.app, "sync_state", self._redraw)

    def _redraw(self, state: SyncState) -> None:
        if state.network:
            top = [_("Network: {name}").format(name=state.network)]
        else:
            top = [_("This laptop is in no network yet: a supervisor enrols it (fieldkit network join).")]
        if state.problem:
            top.append(state.problem)
        if state.refused:
            top.append(_("Refused connections: {n} (not of this network, no certificate, or old TLS; see History)")
                       .format(n=number(state.refused)))
        peers = [line for peer in state.peers for line in peer_lines(peer)] or ["  " + _("none seen on this network")]
        history = [f"  {line}" for line in state.history] or ["  " + _("no sync yet")]
        body = [*top, "", _("Peers"), *peers, "", *hub_lines(state), "", _("History"), *history]
        self.query_one("#sync-body", Static).update("\n".join(body))
