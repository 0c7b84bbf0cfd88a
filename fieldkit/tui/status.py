"""Sync status, always in view, and the sync screen the mesh sync will fill.

The app owns one `SyncState`; whoever learns something about peers or the hub posts
`SyncState.Changed` to the app, and every screen's `StatusBar` redraws. Sync code never touches
a screen, and screens never ask sync anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from fieldkit.i18n import N_, _, digits, ngettext, number
from fieldkit.tui.translated import Translated


@dataclass(frozen=True)
class SyncState:
    peers: tuple[str, ...] = ()  # peers seen on the LAN now
    last_sync: datetime | None = None
    pending_for_hub: int = 0
    history: tuple[str, ...] = field(default=())

    class Changed(Message):
        def __init__(self, state: "SyncState") -> None:
            super().__init__()
            self.state = state

    def with_(self, **changes) -> "SyncState":
        return replace(self, **changes)

    @property
    def summary(self) -> str:
        peers = len(self.peers)
        seen = ngettext("{n} peer", "{n} peers", peers).format(n=digits(str(peers))) if peers else _("offline")
        last = digits(self.last_sync.strftime("%H:%M")) if self.last_sync else _("never")
        return _("{seen} · synced {last} · {pending} for hub").format(
            seen=seen, last=last, pending=number(self.pending_for_hub))


class StatusBar(Static):
    """One line at the top of every screen: who is signed in, and the sync state in words."""

    DEFAULT_CSS = """
    StatusBar { dock: top; height: 1; background: $panel; color: $text; padding: 0 1; }
    """

    def on_mount(self) -> None:
        self.watch(self.app, "sync_state", self._redraw)
        self.watch(self.app, "signed_in", self._redraw)

    def _redraw(self, _changed=None) -> None:
        who = self.app.signed_in or _("locked")
        self.update(f"fieldkit · {who} · {self.app.sync_state.summary}")


class SyncScreen(Translated, Screen):
    """Peers, progress and history; the mesh sync fills it through SyncState alone."""

    BINDINGS = [Binding("escape", "app.pop_screen", N_("Back"), id="back")]

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Static(id="sync-body")
        yield Footer()

    def on_mount(self) -> None:
        self.watch(self.app, "sync_state", self._redraw)

    def _redraw(self, state: SyncState) -> None:
        peers = "\n".join(f"  {peer}" for peer in state.peers) or "  " + _("none seen on this network")
        history = "\n".join(f"  {line}" for line in state.history) or "  " + _("no sync yet")
        pending = _("Pending for hub: {n}").format(n=number(state.pending_for_hub))
        self.query_one("#sync-body", Static).update(f"{_('Peers')}\n{peers}\n\n{pending}\n\n{_('History')}\n{history}")
