"""Signing in, first-run setup, and the lock screen.

Key derivation (Argon2id, most of a second) runs off the event loop: the screen says "unlocking"
and keeps repainting. A wrong passphrase is one line under the field; nothing else changes. The
lock screen also takes the session PIN, if the user set one, without deriving anything.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, Select, Static

from fieldkit.errors import FieldkitError
from fieldkit.i18n import N_, _
from fieldkit.store.home import Home
from fieldkit.store.keystore import Keystore
from fieldkit.tui.base import ClinicScreen, Translated, background
from fieldkit.tui.desk import Desk, off_loop
from fieldkit.tui.messages import SignedIn
from fieldkit.tui.pin import Pin, looks_like_pin
from fieldkit.tui.status import StatusBar


def demo_hint(user: str | None, passphrase: str) -> str:
    return _("Demo clinic: sign in as {user} with the passphrase {passphrase}").format(
        user=user or "demo", passphrase=passphrase)


class UnlockScreen(ClinicScreen):
    """Choose a user and give the passphrase; on an empty data directory, create the clinic."""

    BINDINGS = [Binding("ctrl+q", "app.quit", N_("Quit"), id="quit")]
    AUTO_FOCUS = None  # the first field depends on whether a clinic exists yet: load_users decides

    def __init__(self, home: Home, *, preferred_user: str | None = None, given_passphrase: str | None = None,
                 shown_passphrase: str | None = None) -> None:
        super().__init__()
        self.home = home
        self.preferred_user = preferred_user
        self.given_passphrase = given_passphrase  # signs in at once (a benchmark's)
        self.shown_passphrase = shown_passphrase  # the demo's, written here: the terminal's own copy is drawn over

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with Vertical(id="unlock", classes="form"):
            yield Static(_("Sign in"), classes="title", id="unlock-title")
            yield Select([], prompt=_("User"), id="user", allow_blank=True)
            yield Input(placeholder=_("New supervisor's name"), id="new-user")
            yield Input(placeholder=_("Passphrase"), password=True, id="passphrase")
            yield Input(placeholder=_("Passphrase again"), password=True, id="again")
            yield Label("", id="unlock-error", classes="error")
            if self.shown_passphrase:
                yield Static(demo_hint(self.preferred_user, self.shown_passphrase), id="demo-hint", classes="note")
        yield Footer()

    def on_mount(self) -> None:
        self.load_users()

    @background(exclusive=True)
    async def load_users(self) -> None:
        home = self.home
        first_run = not home.exists
        users = [] if first_run else await off_loop(Keystore(home.keystore).users)
        self.query_one("#unlock-title", Static).update(
            _("Create the clinic in {path}").format(path=home.path) if first_run else _("Sign in"))
        self.query_one("#new-user").display = self.query_one("#again").display = first_run
        select = self.query_one("#user", Select)
        select.display = not first_run
        select.set_options([(f"{u.name} ({_(u.role)})", u.name) for u in users])
        preferred = self.preferred_user or (users[0].name if len(users) == 1 else None)
        if preferred in {u.name for u in users}:
            select.value = preferred
        (self.query_one("#new-user") if first_run else self.query_one("#passphrase")).focus()
        if self.given_passphrase and not first_run and not select.is_blank():
            self.query_one("#passphrase", Input).value = self.given_passphrase
            self.sign_in()

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "new-user":
            self.query_one("#passphrase").focus()
        elif event.input.id == "passphrase" and self.query_one("#again").display:
            self.query_one("#again").focus()
        else:
            self.sign_in()

    @background(exclusive=True)
    async def sign_in(self) -> None:
        error = self.query_one("#unlock-error", Label)
        passphrase = self.query_one("#passphrase", Input).value
        error.update(_("unlocking…"))
        try:
            if not self.home.exists:
                name = self.query_one("#new-user", Input).value.strip()
                if passphrase != self.query_one("#again", Input).value:
                    raise FieldkitError(_("the two passphrases differ"))
                desk = await Desk.create(self.home, name, passphrase)
            else:
                select = self.query_one("#user", Select)
                if select.is_blank():
                    raise FieldkitError(_("choose a user"))
                desk = await Desk.open(self.home, str(select.value), passphrase)
        except FieldkitError as exc:
            error.update(str(exc))
            self.query_one("#passphrase", Input).value = self.query_one("#again", Input).value = ""
            self.query_one("#passphrase").focus()
            return
        self.post_message(SignedIn(desk))


class LockScreen(Translated, ModalScreen[None]):
    """Covers everything until the signed-in user's passphrase, or their session PIN, is given.

    Opaque, in every theme: a modal screen is otherwise drawn over a dimmed copy of the screen
    beneath (and over a clear one in the ANSI themes), which would leave patients' names, places
    and tasks readable on an unattended laptop."""

    DEFAULT_CSS = """
    LockScreen { background: $background; }
    LockScreen:ansi { background: ansi_default; }
    """
    BINDINGS = [Binding("ctrl+q", "app.quit", N_("Quit"), id="quit")]
    AUTO_FOCUS = "#lock-passphrase"

    def __init__(self, pin: Pin | None = None, *, shown_passphrase: str | None = None) -> None:
        super().__init__()
        self.pin = pin
        self.shown_passphrase = shown_passphrase

    def compose(self) -> ComposeResult:
        with Vertical(classes="form", id="lock"):
            asked = _("your passphrase or PIN:") if self.pin else _("your passphrase:")
            yield Static(_("Locked.") + f" {self.desk.user.name}, {asked}", classes="title")
            yield Input(password=True, id="lock-passphrase")
            yield Label("", id="lock-error", classes="error")
            yield Button(_("Unlock"), id="unlock-button", variant="primary")
            if self.shown_passphrase:
                yield Static(demo_hint(self.desk.user.name, self.shown_passphrase), id="demo-hint", classes="note")

    @on(Input.Submitted)
    @on(Button.Pressed)
    def submitted(self) -> None:
        self.check()

    @background(exclusive=True)
    async def check(self) -> None:
        field = self.query_one("#lock-passphrase", Input)
        pin = self.pin
        try:
            if pin is not None and looks_like_pin(field.value):
                pin.check(field.value)
            else:
                await self.desk.check_passphrase(field.value)
        except FieldkitError as exc:
            self.query_one("#lock-error", Label).update(str(exc))
            field.value = ""
            return
        self.dismiss()
