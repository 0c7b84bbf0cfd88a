"""The clinic screen: sign in, find or register, chart, encounter; locks itself when left alone.

Every screen talks to the clinic through `Desk`, which never blocks the event loop. Screens are
pushed and popped; the lock is a modal over whatever was open, so nothing typed is lost.
"""

from __future__ import annotations

import time
from typing import Any, Iterable

from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen

from fieldkit.store.home import Home
from fieldkit.tui.chart import ChartScreen
from fieldkit.tui.commands import PatientCommands
from fieldkit.tui.conflicts import ConflictScreen
from fieldkit.tui.desk import Desk
from fieldkit.tui.encounter import EncounterScreen
from fieldkit.tui.home import HomeScreen
from fieldkit.tui.register import RegisterScreen
from fieldkit.tui.status import SyncScreen, SyncState
from fieldkit.tui.unlock import LockScreen, UnlockScreen

IDLE_LOCK_SECONDS = 300


class FieldkitApp(App):
    TITLE = "fieldkit"
    CSS_PATH = "fieldkit.tcss"
    COMMANDS = App.COMMANDS | {PatientCommands}
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", id="quit", show=False)]

    sync_state: reactive[SyncState] = reactive(SyncState, always_update=True)
    signed_in: reactive[str] = reactive("")

    def __init__(self, home: Home, *, user: str | None = None, passphrase: str | None = None,
                 idle_lock_seconds: float = IDLE_LOCK_SECONDS) -> None:
        super().__init__()
        self.home = home
        self.preferred_user = user
        self.given_passphrase = passphrase
        self.idle_lock_seconds = idle_lock_seconds
        self.desk: Desk | None = None
        self.locked = False
        self.last_input = time.monotonic()

    def on_mount(self) -> None:
        self.push_screen(UnlockScreen())
        self.set_interval(min(5.0, self.idle_lock_seconds / 2), self._lock_when_idle)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.MouseDown)):
            self.last_input = time.monotonic()
        await super().on_event(event)

    async def signed_in_as(self, desk: Desk) -> None:
        self.desk = desk
        self.signed_in = f"{desk.user.name} ({desk.user.role})"
        self.switch_screen(HomeScreen())
        self.sync_state = self.sync_state.with_(pending_for_hub=await desk.pending_for_hub())

    def on_sync_state_changed(self, message: SyncState.Changed) -> None:
        self.sync_state = message.state

    # -- moving between screens ------------------------------------------------------------------

    def open_chart(self, patient_id: str) -> None:
        self.push_screen(ChartScreen(patient_id))

    def open_encounter(self, patient_id: str, record: dict[str, Any]) -> None:
        self.push_screen(EncounterScreen(patient_id, record))

    def open_registration(self, typed: str = "") -> None:
        self.push_screen(RegisterScreen(typed))

    def action_sync(self) -> None:
        self.push_screen(SyncScreen())

    def action_conflicts(self) -> None:
        if self.desk is not None and self.desk.user.role == "supervisor":
            self.push_screen(ConflictScreen())
        else:
            self.notify("Only a supervisor resolves conflicts.", severity="warning")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if self.desk is None:
            return
        yield SystemCommand("Register a patient", "Open the registration form (F4)", self.open_registration)
        yield SystemCommand("Conflicts", "The supervisor's conflict inbox (F8)", self.action_conflicts)
        yield SystemCommand("Sync", "Peers, progress and history (F9)", self.action_sync)
        yield SystemCommand("Lock", "Lock the screen now (F12)", self.action_lock)

    # -- locking ---------------------------------------------------------------------------------

    def action_lock(self) -> None:
        # A flag, not a look at the top screen: the timer may fire again before the push lands.
        if self.desk is not None and not self.locked:
            self.locked = True
            self.push_screen(LockScreen(), callback=self._unlocked)

    def _unlocked(self, _=None) -> None:
        self.locked = False
        self.last_input = time.monotonic()

    def _lock_when_idle(self) -> None:
        if time.monotonic() - self.last_input >= self.idle_lock_seconds:
            self.action_lock()

    async def on_unmount(self) -> None:
        if self.desk is not None:
            await self.desk.close()


def run(home: Home, user: str | None = None, passphrase: str | None = None) -> None:
    """Open the clinic screen; `passphrase` signs in at once (the demo's, printed beside it)."""
    FieldkitApp(home, user=user, passphrase=passphrase).run()
