"""Signing in, first-run setup, and the lock screen.

Key derivation (Argon2id, most of a second) runs off the event loop: the screen says "unlocking"
and keeps repainting. A wrong passphrase is one line under the field; nothing else changes.
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Input, Label, Select, Static

from fieldkit.errors import FieldkitError
from fieldkit.store.keystore import Keystore
from fieldkit.tui.desk import Desk, off_loop
from fieldkit.tui.status import StatusBar


class UnlockScreen(Screen):
    """Choose a user and give the passphrase; on an empty data directory, create the clinic."""

    BINDINGS = [Binding("ctrl+q", "app.quit", "Quit", id="quit")]
    AUTO_FOCUS = None  # the first field depends on whether a clinic exists yet: load_users decides

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with Vertical(id="unlock", classes="form"):
            yield Static("Sign in", classes="title", id="unlock-title")
            yield Select([], prompt="User", id="user", allow_blank=True)
            yield Input(placeholder="New supervisor's name", id="new-user")
            yield Input(placeholder="Passphrase", password=True, id="passphrase")
            yield Input(placeholder="Passphrase again", password=True, id="again")
            yield Label("", id="unlock-error", classes="error")
        yield Footer()

    def on_mount(self) -> None:
        self.load_users()

    @work(exclusive=True)
    async def load_users(self) -> None:
        home = self.app.home
        first_run = not home.exists
        users = [] if first_run else await off_loop(Keystore(home.keystore).users)
        self.query_one("#unlock-title", Static).update(
            f"Create the clinic in {home.path}" if first_run else "Sign in")
        self.query_one("#new-user").display = self.query_one("#again").display = first_run
        select = self.query_one("#user", Select)
        select.display = not first_run
        select.set_options([(f"{u.name} ({u.role})", u.name) for u in users])
        preferred = self.app.preferred_user or (users[0].name if len(users) == 1 else None)
        if preferred in {u.name for u in users}:
            select.value = preferred
        (self.query_one("#new-user") if first_run else self.query_one("#passphrase")).focus()
        if self.app.given_passphrase and not first_run and not select.is_blank():
            self.query_one("#passphrase", Input).value = self.app.given_passphrase
            self.sign_in()

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "new-user":
            self.query_one("#passphrase").focus()
        elif event.input.id == "passphrase" and self.query_one("#again").display:
            self.query_one("#again").focus()
        else:
            self.sign_in()

    @work(exclusive=True)
    async def sign_in(self) -> None:
        error = self.query_one("#unlock-error", Label)
        passphrase = self.query_one("#passphrase", Input).value
        error.update("unlocking…")
        try:
            if not self.app.home.exists:
                name = self.query_one("#new-user", Input).value.strip()
                if passphrase != self.query_one("#again", Input).value:
                    raise FieldkitError("the two passphrases differ")
                desk = await Desk.create(self.app.home, name, passphrase)
            else:
                select = self.query_one("#user", Select)
                if select.is_blank():
                    raise FieldkitError("choose a user")
                desk = await Desk.open(self.app.home, select.value, passphrase)
        except FieldkitError as exc:
            error.update(str(exc))
            self.query_one("#passphrase", Input).value = self.query_one("#again", Input).value = ""
            self.query_one("#passphrase").focus()
            return
        await self.app.signed_in_as(desk)


class LockScreen(ModalScreen[None]):
    """Covers everything until the signed-in user's passphrase is given again."""

    BINDINGS = [Binding("ctrl+q", "app.quit", "Quit", id="quit")]
    AUTO_FOCUS = "#lock-passphrase"

    def compose(self) -> ComposeResult:
        with Vertical(classes="form", id="lock"):
            yield Static(f"Locked. {self.app.desk.user.name}, your passphrase:", classes="title")
            yield Input(password=True, id="lock-passphrase")
            yield Label("", id="lock-error", classes="error")
            yield Button("Unlock", id="unlock-button", variant="primary")

    @on(Input.Submitted)
    @on(Button.Pressed)
    def submitted(self) -> None:
        self.check()

    @work(exclusive=True)
    async def check(self) -> None:
        field = self.query_one("#lock-passphrase", Input)
        try:
            await self.app.desk.check_passphrase(field.value)
        except FieldkitError as exc:
            self.query_one("#lock-error", Label).update(str(exc))
            field.value = ""
            return
        self.dismiss()
