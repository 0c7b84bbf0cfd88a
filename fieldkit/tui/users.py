"""Who may sign in on this laptop, in which role: the supervisor adds users and changes roles.

Adding a user seals the database key for their passphrase, and only a key already unsealed can
be sealed again: so the supervisor gives their own passphrase too. Both key derivations
(Argon2id, most of a second each) run off the event loop. A role change is kept in the key slots
and journalled, so other laptops learn it; the last supervisor cannot step down.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.widgets import DataTable, Footer, Input, Label, Select, Static

from fieldkit.errors import FieldkitError
from fieldkit.i18n import LANGUAGES, N_, _
from fieldkit.permissions import ROLES
from fieldkit.store.keystore import User
from fieldkit.tui.base import RoleScreen, background
from fieldkit.tui.messages import RoleChanged
from fieldkit.tui.status import StatusBar
from fieldkit.tui.words import word

PASSPHRASES = ("passphrase", "again", "own-passphrase")


class UsersScreen(RoleScreen):
    ACTION = "manage users"
    REFUSAL = N_("Only a supervisor manages users.")
    DEFAULT_CSS = """
    #users { padding: 0 1; }
    #user-list { height: 6; }
    #role-row { height: 1; margin: 0 0 1 0; }
    #role-row Label { padding: 0 1 0 0; }
    #role-row Select { width: 24; }
    #user-form { grid-size: 2; grid-columns: 26 1fr; grid-rows: 1; grid-gutter: 0 1; height: auto; }
    """
    BINDINGS = [
        Binding("f2", "add", N_("Add user"), id="add-user", priority=True),
        Binding("f3", "change_role", N_("Change role"), id="change-role", priority=True),
        Binding("f4", "revoke", N_("Revoke user"), id="revoke-user", priority=True),
        Binding("escape", "app.pop_screen", N_("Back"), id="back"),
        Binding("f12", "app.lock", N_("Lock"), id="lock"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.users: list[User] = []
        self.revoking: str | None = None  # the user F4 was pressed once for

    def compose(self) -> ComposeResult:
        roles = [(word(role), role) for role in ROLES]
        yield StatusBar()
        with VerticalScroll(id="users"):
            yield Static(_("Users on this laptop"), classes="title")
            yield DataTable(id="user-list", cursor_type="row")
            with Horizontal(id="role-row"):
                yield Label(_("Role of the highlighted user (F3 saves)"))
                yield Select(roles, allow_blank=False, id="new-role", compact=True)
            yield Static(_("Add a user (F2)"), classes="title")
            with Grid(id="user-form"):
                yield Label(_("Name"))
                yield Input(id="name", compact=True)
                yield Label(_("Role"))
                yield Select(roles, value="clinician", allow_blank=False, id="role", compact=True)
                yield Label(_("Language"))
                yield Select([(name, code) for code, name in LANGUAGES.items()], value="en", allow_blank=False,
                             id="language", compact=True)
                yield Label(_("Their passphrase"))
                yield Input(password=True, id="passphrase", compact=True)
                yield Label(_("Their passphrase again"))
                yield Input(password=True, id="again", compact=True)
                yield Label(_("Your own passphrase"))
                yield Input(password=True, id="own-passphrase", compact=True)
            yield Label("", id="users-error", classes="error")
        yield Footer()

    def on_mount(self) -> None:
        if self.refused():
            return
        self.query_one("#user-list", DataTable).add_columns(_("Name"), _("Role"), _("Language"))
        self.load()

    @background(exclusive=True, group="users")
    async def load(self) -> None:
        self.users = await self.desk.users()
        table = self.query_one("#user-list", DataTable)
        row = table.cursor_row
        table.clear()
        for user in self.users:
            table.add_row(user.name, word(user.role), LANGUAGES.get(user.language, user.language))
        table.move_cursor(row=min(row, len(self.users) - 1))
        table.focus()

    @on(DataTable.RowHighlighted, "#user-list")
    def highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.revoking = None
        if 0 <= event.cursor_row < len(self.users):
            self.query_one("#new-role", Select).value = self.users[event.cursor_row].role

    def action_revoke(self) -> None:
        row = self.query_one("#user-list", DataTable).cursor_row
        if not 0 <= row < len(self.users):
            self._error(_("choose a user in the list first"))
            return
        user = self.users[row]
        if self.revoking != user.id:  # a revocation cannot be taken back: the key is pressed twice
            self.revoking = user.id
            self._error(_("Press F4 again to revoke {name} on every laptop: no more signing in, and entries written "
                          "as {name} from now on are held for a supervisor.").format(name=user.name))
            return
        self.revoking = None
        self.revoke(user)

    @background(exclusive=True, group="change")
    async def revoke(self, user: User) -> None:
        try:
            await self.desk.revoke_user(user.id, "")
        except FieldkitError as exc:
            self._error(str(exc))
            return
        self._error("")
        self.notify(_("{name} is revoked; the revocation spreads with the next syncs.").format(name=user.name))
        self.load()

    def _error(self, message: str) -> None:
        self.query_one("#users-error", Label).update(message)

    def action_add(self) -> None:
        self.add()

    @background(exclusive=True, group="change")
    async def add(self) -> None:
        value = {name: self.query_one(f"#{name}", Input).value for name in ("name", *PASSPHRASES)}
        if value["passphrase"] != value["again"]:
            self._error(_("the two passphrases for the new user differ"))
            return
        if not value["own-passphrase"]:
            self._error(_("give your own passphrase: it unlocks the key to seal for the new user"))
            return
        self._error(_("sealing the key for the new user…"))
        try:
            user = await self.desk.add_user(value["name"], str(self.query_one("#role", Select).value),
                                            str(self.query_one("#language", Select).value),
                                                value["passphrase"], value["own-passphrase"])
        except FieldkitError as exc:
            self._error(str(exc))
            return
        finally:
            for name in PASSPHRASES:  # never left on screen, right or wrong
                self.query_one(f"#{name}", Input).value = ""
        self.query_one("#name", Input).value = ""
        self._error("")
        self.notify(_("Added {name} as {role}.").format(name=user.name, role=word(user.role)))
        self.load()

    def action_change_role(self) -> None:
        self.change_role()

    @background(exclusive=True, group="change")
    async def change_role(self) -> None:
        row = self.query_one("#user-list", DataTable).cursor_row
        if not 0 <= row < len(self.users):
            self._error(_("choose a user in the list first"))
            return
        user, role = self.users[row], str(self.query_one("#new-role", Select).value)
        if role == user.role:
            self._error(_("{name} is already {role}").format(name=user.name, role=word(role)))
            return
        try:
            changed = await self.desk.change_role(user.name, role)
        except FieldkitError as exc:
            self._error(str(exc))
            return
        self._error("")
        self.notify(_("{name} is now {role}.").format(name=changed.name, role=word(changed.role)))
        if changed.id == self.desk.user.id and not self.allows(changed.role):
            # Stepped down: this screen is a supervisor's, and the status line shows the new role.
            self.post_message(RoleChanged(changed))
            self.dismiss()
            return
        self.load()
