"""The clinic screen: sign in, find or register, chart, encounter; locks itself when left alone.

Every screen talks to the clinic through `Desk`, which never blocks the event loop. Screens are
pushed and popped; the lock is a modal over whatever was open, so nothing typed is lost.

Sign-in switches to the user's language; changing it rebuilds the screens so every label and
key follows. A site remaps keys in `keymap.toml` in the data directory (binding id = "key").
"""

from __future__ import annotations

import time
import tomllib
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.command import CommandPalette
from textual.filter import LineFilter
from textual.reactive import reactive
from textual.screen import Screen
from textual.worker import Worker

from fieldkit.i18n import N_, _, set_language
from fieldkit.permissions import allowed
from fieldkit.store.home import Home
from fieldkit.store.keystore import Keystore
from fieldkit.store.threads import favour_quick_reads
from fieldkit.tui import rtl
from fieldkit.tui.base import RoleScreen, report_failure
from fieldkit.tui.chart import ChartScreen
from fieldkit.tui.commands import PatientCommands
from fieldkit.tui.conflicts import ConflictScreen
from fieldkit.tui.desk import Desk, off_loop
from fieldkit.tui.encounter import EncounterScreen
from fieldkit.tui.home import HomeScreen
from fieldkit.tui.lab_import import ImportScreen
from fieldkit.tui.merge import MergeScreen
from fieldkit.tui.messages import (
    LanguageChosen,
    LockAfterChosen,
    OpenChart,
    OpenEncounter,
    OpenRegistration,
    PinChosen,
    RoleChanged,
    RtlChosen,
    SignedIn,
)
from fieldkit.tui.network import NetworkScreen
from fieldkit.tui.palette import palette, speak_footer_key, translated
from fieldkit.tui.pin import Pin
from fieldkit.tui.quarantine import QuarantineScreen
from fieldkit.tui.register import RegisterScreen
from fieldkit.tui.settings import SettingsScreen
from fieldkit.tui.status import SyncScreen, SyncState, sync_state
from fieldkit.tui.summary import SummaryScreen
from fieldkit.tui.unlock import LockScreen, UnlockScreen
from fieldkit.tui.users import UsersScreen
from fieldkit.tui.words import word
from fieldkit.tui.worklist import programme_commands

if TYPE_CHECKING:  # imported when a network member signs in: zeroconf takes a sixth of a second
    from fieldkit.sync.engine import Engine

LOCK_AFTER_MINUTES = 5  # the laptop's setting (Settings, F11) overrides it


# The app's actions that open a screen only some roles may use (its ACTION in permissions.ACTIONS).
ROLE_SCREENS: dict[str, type[RoleScreen]] = {"conflicts": ConflictScreen, "day_summary": SummaryScreen, "merge_patients": MergeScreen,
                "users": UsersScreen, "network": NetworkScreen, "import_labs": ImportScreen,
                "quarantine": QuarantineScreen}


class FieldkitApp(App):
    TITLE = "fieldkit"
    CSS_PATH = "fieldkit.tcss"
    COMMANDS = App.COMMANDS | {PatientCommands}
    BINDINGS = [Binding("ctrl+q", "quit", N_("Quit"), id="quit", show=False)]

    sync_state: reactive[SyncState] = reactive(SyncState, always_update=True)
    signed_in: reactive[str] = reactive("")

    def __init__(self, home: Home, *, user: str | None = None, passphrase: str | None = None,
                 idle_lock_seconds: float | None = None, shown_passphrase: str | None = None) -> None:
        super().__init__()
        self.home = home
        self.preferred_user = user
        self.given_passphrase = passphrase
        self.shown_passphrase = shown_passphrase  # the demo's: the sign-in and lock screens show it
        self.desk: Desk | None = None
        self.engine: Engine | None = None
        self.sync_interfaces: list[str] | None = None  # None: every interface; tests use loopback
        self.pin: Pin | None = None  # set by the user for this run only; never written anywhere
        self._unsubscribe: Callable[[], None] = lambda: None
        self.locked = False
        self.last_input = time.monotonic()
        # Read before the screen exists: the sign-in screen already speaks the last user's language.
        laptop = Keystore(home.keystore)
        settings = laptop.settings() if laptop.exists else {}
        self._use_language(settings.get("language", "en"))
        rtl.set_mode(settings.get("rtl_mode", "terminal"))
        self.idle_lock_seconds = idle_lock_seconds or 60 * int(settings.get("lock_after") or LOCK_AFTER_MINUTES)
        if settings.get("theme") in self.available_themes:
            self.theme = settings["theme"]
        self.keymap_error = self._load_keymap()

    def watch_theme(self, theme: str) -> None:
        # Kept for the laptop: a 16-colour terminal chosen once stays chosen.
        if self.desk is not None:
            self.run_worker(off_loop(Keystore(self.home.keystore).set_setting, "theme", theme), group="settings",
                            exit_on_error=False)

    async def lock_after(self, minutes: int) -> None:
        await off_loop(Keystore(self.home.keystore).set_setting, "lock_after", str(minutes))
        self.idle_lock_seconds = 60 * minutes

    def _load_keymap(self) -> str:
        path = self.home.path / "keymap.toml"
        if not path.exists():
            return ""
        try:
            keymap = tomllib.loads(path.read_text(encoding="utf-8"))
            if not all(isinstance(keys, str) for keys in keymap.values()):
                raise ValueError("each binding id needs one string of keys")
        except (ValueError, UnicodeDecodeError) as exc:
            return _("{path} ignored: {problem}").format(path=path, problem=str(exc).splitlines()[0])
        self.set_keymap(keymap)
        return ""

    def on_mount(self) -> None:
        self.push_screen(UnlockScreen(self.home, preferred_user=self.preferred_user,
                                      given_passphrase=self.given_passphrase, shown_passphrase=self.shown_passphrase))
        self.set_interval(min(5.0, self.idle_lock_seconds / 2), self._lock_when_idle)
        if rtl.mode() == "app":
            self._tell_terminal(rtl.EXPLICIT)
        if self.keymap_error:
            self.notify(self.keymap_error, severity="warning", timeout=10)

    def _use_language(self, language: str) -> None:
        """The catalogue, and Textual's own footer key (the palette's), in this language."""
        set_language(language)
        speak_footer_key(self)

    def get_line_filters(self) -> Sequence[LineFilter]:
        # Every widget's lines pass here after wrapping: right-to-left text is laid out in one place.
        filters = super().get_line_filters()
        return filters if rtl.mode() == "terminal" else [rtl.BIDI, *filters]

    def _tell_terminal(self, sequence: str) -> None:
        if self._driver is not None and not self.is_headless:
            self._driver.write(sequence)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.MouseDown)):
            self.last_input = time.monotonic()
        await super().on_event(event)

    async def on_signed_in(self, message: SignedIn) -> None:
        desk = self.desk = message.desk
        self._use_language(desk.user.language)
        self.signed_in = f"{desk.user.name} ({word(desk.user.role)})"
        # The app's worker: the sign-in screen's own worker dies with it when home replaces it.
        self.run_worker(self.count_pending(), group="pending", exclusive=True, exit_on_error=False)
        self.run_worker(self.start_sync(), group="sync", exclusive=True, exit_on_error=False)
        # Saves here or in another process on this laptop (a command, `sync serve`) move the count.
        self._unsubscribe = desk.subscribe(lambda commit: self.run_worker(
            self.count_pending(), group="pending", exclusive=True, exit_on_error=False))
        self.switch_screen(HomeScreen())

    @property
    def signed_in_desk(self) -> Desk:
        assert self.desk is not None, "only after sign-in"
        return self.desk

    async def start_sync(self) -> None:
        """Run the sync engine beside the screens while the clinic is open (a network member only)."""
        if self.engine is None:
            self.engine = await self.signed_in_desk.start_sync(self._sync_changed, interfaces=self.sync_interfaces)
            self._sync_changed()

    def _sync_changed(self) -> None:
        if self.engine is not None:
            self.sync_state = sync_state(self.engine, self.sync_state)

    async def count_pending(self) -> None:
        pending, last = await self.signed_in_desk.hub_standing()
        self.sync_state = self.sync_state.with_(pending_for_hub=pending, hub_last=last)

    def on_language_chosen(self, message: LanguageChosen) -> None:
        # The app's worker, not the settings screen's: rebuilding the screens removes that one.
        self.run_worker(self.speak(message.language), group="rebuild", exclusive=True, exit_on_error=False)

    def on_rtl_chosen(self, message: RtlChosen) -> None:
        self.run_worker(self.render_rtl(message.mode), group="rebuild", exclusive=True, exit_on_error=False)

    async def on_lock_after_chosen(self, message: LockAfterChosen) -> None:
        await self.lock_after(message.minutes)

    def on_pin_chosen(self, message: PinChosen) -> None:
        self.pin = message.pin

    def on_role_changed(self, message: RoleChanged) -> None:
        self.signed_in = f"{message.user.name} ({word(message.user.role)})"

    async def speak(self, language: str) -> None:
        """Switch language now: the signed-in user keeps it, and every screen is made again."""
        desk = self.signed_in_desk
        user = await off_loop(Keystore(self.home.keystore).set_language, desk.user.name, language)
        await off_loop(Keystore(self.home.keystore).set_setting, "language", language)
        desk.user = user
        self._use_language(language)
        self.signed_in = f"{user.name} ({word(user.role)})"
        while len(self.screen_stack) > 2:  # the default screen, then home
            await self.pop_screen()
        await self.switch_screen(HomeScreen())

    async def render_rtl(self, mode: str) -> None:
        await off_loop(Keystore(self.home.keystore).set_setting, "rtl_mode", mode)
        self._tell_terminal(rtl.EXPLICIT if mode == "app" else rtl.IMPLICIT)
        rtl.set_mode(mode)
        await self.speak(self.signed_in_desk.user.language)

    def on_sync_state_changed(self, message: SyncState.Changed) -> None:
        self.sync_state = message.state

    # -- moving between screens ------------------------------------------------------------------

    def on_open_chart(self, message: OpenChart) -> None:
        if message.instead:
            self.pop_screen()
        self.push_screen(ChartScreen(message.patient_id))

    def on_open_encounter(self, message: OpenEncounter) -> None:
        self.push_screen(EncounterScreen(message.patient_id, message.record))

    def on_open_registration(self, message: OpenRegistration) -> None:
        self.push_screen(RegisterScreen(message.typed))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        report_failure(self, event)

    def action_sync(self) -> None:
        self.push_screen(SyncScreen())

    def action_enrol(self) -> None:
        from fieldkit.tui.enrol import EnrolScreen  # zeroconf and SPAKE2 load only when enrolling

        if self.desk is not None and EnrolScreen.allows(self.desk.user.role):
            self.push_screen(EnrolScreen())
        else:
            self.notify(_(EnrolScreen.REFUSAL), severity="warning")

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        # Keys of screens a role may not use leave the footer (80 columns is full); the palette
        # still offers them and says who may use them.
        if action == "enrol":
            return self.desk is not None and allowed(self.desk.user.role, "enrol laptops")
        screen = ROLE_SCREENS.get(action)
        return screen is None or (self.desk is not None and screen.allows(self.desk.user.role))

    def _open_role_screen(self, action: str) -> None:
        screen = ROLE_SCREENS[action]
        if self.desk is not None and screen.allows(self.desk.user.role):
            self.push_screen(screen())
        else:
            self.notify(_(screen.REFUSAL), severity="warning")

    def action_conflicts(self) -> None:
        self._open_role_screen("conflicts")

    def action_day_summary(self) -> None:
        self._open_role_screen("day_summary")

    def action_merge_patients(self) -> None:
        self._open_role_screen("merge_patients")

    def action_users(self) -> None:
        self._open_role_screen("users")

    def action_network(self) -> None:
        self._open_role_screen("network")

    def action_referrals(self, to_us: bool = False) -> None:
        from fieldkit.tui.referrals import ToUsScreen, TrackerScreen

        if self.desk is not None:
            self.push_screen(ToUsScreen() if to_us else TrackerScreen())

    def action_worklist(self, view: str = "due") -> None:
        from fieldkit.tui.worklist import WorklistScreen

        if self.desk is not None:
            self.push_screen(WorklistScreen(view))

    def action_programmes(self) -> None:
        from fieldkit.tui.programmes import ProgrammesScreen

        if self.desk is not None:
            self.push_screen(ProgrammesScreen())

    def action_import_labs(self) -> None:
        self._open_role_screen("import_labs")

    def action_quarantine(self) -> None:
        self._open_role_screen("quarantine")

    def action_due_list(self) -> None:
        from fieldkit.tui.vaccinations import DueListScreen

        if self.desk is not None:
            self.push_screen(DueListScreen())

    def action_rounds(self) -> None:
        from fieldkit.tui.rounds import RoundsScreen

        if self.desk is not None:
            self.push_screen(RoundsScreen())

    def action_backup(self) -> None:
        from fieldkit.tui.backup import BackupScreen

        if self.desk is not None:
            self.push_screen(BackupScreen())

    def action_settings(self) -> None:
        if self.desk is not None:
            self.push_screen(SettingsScreen(round(self.idle_lock_seconds / 60)))

    def action_command_palette(self) -> None:
        if self.use_command_palette and not CommandPalette.is_open(self):
            self.push_screen(palette())

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from translated(super().get_system_commands(screen))
        if self.desk is None:
            return
        yield SystemCommand(_("Register a patient"), _("Open the registration form (F4)"),
                            lambda: self.post_message(OpenRegistration()))
        yield SystemCommand(_("Conflicts"), _("The supervisor's conflict inbox (F8)"), self.action_conflicts)
        yield SystemCommand(_("Referrals"), _("To send, overdue, awaiting arrival, feedback to act on (F5)"),
                            self.action_referrals)
        yield SystemCommand(_("Referrals to us"), _("Referrals sent to this laptop's facility (F5, F6)"),
                            lambda: self.action_referrals(to_us=True))
        yield from programme_commands(self)
        yield SystemCommand(_("Import lab results"), _("A lab's file: check it, then import it"), self.action_import_labs)
        yield SystemCommand(_("Quarantined lab rows"), _("Rows of a lab's file that matched no patient"),
                            self.action_quarantine)
        yield SystemCommand(_("Vaccinations due"), _("Who is due or overdue a dose or a test, by schedule"),
                            self.action_due_list)
        yield SystemCommand(_("Screening rounds"), _("People tested per round, and their vaccination"),
                            self.action_rounds)
        yield SystemCommand(_("Back up to a stick"), _("The clinic, encrypted, onto a stick; you can go on working"),
                            self.action_backup)
        yield SystemCommand(_("Day summary"), _("Patients seen, risk bands, referrals, follow-ups (F6)"),
                            self.action_day_summary)
        yield SystemCommand(_("Merge duplicates"), _("Two registrations of one person become one (F7)"),
                            self.action_merge_patients)
        yield SystemCommand(_("Users and roles"), _("Add users, change roles (F10)"), self.action_users)
        yield SystemCommand(_("Sync"), _("Peers, progress and history (F9)"), self.action_sync)
        yield SystemCommand(_("Enrol a laptop"), _("A one-time code and QR code for a new laptop (F9, E)"),
                            self.action_enrol)
        yield SystemCommand(_("Laptops and revocations"), _("Revoke a lost laptop, release what it held (F9, L)"),
                            self.action_network)
        yield SystemCommand(_("Settings"), _("Language, right-to-left display, PIN (F11)"), self.action_settings)
        yield SystemCommand(_("Lock"), _("Lock the screen now (F12)"), self.action_lock)

    # -- locking ---------------------------------------------------------------------------------

    def action_lock(self) -> None:
        # A flag, not a look at the top screen: the timer may fire again before the push lands.
        if self.desk is not None and not self.locked:
            self.locked = True
            self.clear_notifications()  # a message may name a patient: it must not sit on the lock screen
            self.push_screen(LockScreen(self.pin, shown_passphrase=self.shown_passphrase), callback=self._unlocked)

    def _unlocked(self, _result=None) -> None:
        self.locked = False
        self.last_input = time.monotonic()

    def _lock_when_idle(self) -> None:
        if time.monotonic() - self.last_input >= self.idle_lock_seconds:
            self.action_lock()

    async def on_unmount(self) -> None:
        if rtl.mode() == "app":
            self._tell_terminal(rtl.IMPLICIT)
        self._unsubscribe()
        if self.engine is not None:
            await self.engine.stop()
        if self.desk is not None:
            await self.desk.close()


def run(home: Home, user: str | None = None, passphrase: str | None = None,
        shown_passphrase: str | None = None) -> None:
    """Open the clinic screen; `passphrase` signs in at once; `shown_passphrase` (the demo's) is
    written on the sign-in and lock screens for whoever tries the demo."""
    favour_quick_reads()  # searches typed while the sync engine folds a batch
    FieldkitApp(home, user=user, passphrase=passphrase, shown_passphrase=shown_passphrase).run()
