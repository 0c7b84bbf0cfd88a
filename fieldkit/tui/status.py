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
        seen = f"{len(self.peers)} peer{'s' if len(self.peers) != 1 else ''}" if self.peers else "offline"
        last = self.last_sync.strftime("%H:%M") if self.last_sync else "never"
        return f"{seen} · synced {last} · {self.pending_for_hub} for hub"


class StatusBar(Static):
    """One line at the top of every screen: who is signed in, and the sync state in words."""

    DEFAULT_CSS = """
    StatusBar { dock: top; height: 1; background: $panel; color: $text; padding: 0 1; }
    """

    def on_mount(self) -> None:
        self.watch(self.app, "sync_state", self._redraw)
        self.watch(self.app, "signed_in", self._redraw)

    def _redraw(self, _=None) -> None:
        who = self.app.signed_in or "locked"
        self.update(f"fieldkit · {who} · {self.app.sync_state.summary}")


class SyncScreen(Screen):
    """Peers, progress and history; the mesh sync fills it through SyncState alone."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back", id="back")]

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Static(id="sync-body")
        yield Footer()

    def on_mount(self) -> None:
        self.watch(self.app, "sync_state", self._redraw)

    def _redraw(self, state: SyncState) -> None:
        peers = "\n".join(f"  {peer}" for peer in state.peers) or "  none seen on this network"
        history = "\n".join(f"  {line}" for line in state.history) or "  no sync yet"
        self.query_one("#sync-body", Static).update(
            f"Peers\n{peers}\n\nPending for hub: {state.pending_for_hub}\n\nHistory\n{history}")
