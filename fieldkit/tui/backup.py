"""Back up to a stick: the clinic, encrypted, into a new folder on a stick (store/backup.py).

The copy is a snapshot taken on the store's threads, so the clinic goes on working while it is
made, here or in another window. The user types her passphrase again: it unwraps the key the copy
is made under, and proves that whoever is at the keyboard may take the clinic away on a stick.
"""

from __future__ import annotations

import getpass
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Input, Label, Static

from fieldkit.errors import FieldkitError
from fieldkit.i18n import N_, _, number
from fieldkit.tui.base import ClinicScreen, background
from fieldkit.tui.status import StatusBar

MOUNTS = ("/media/{user}", "/run/media/{user}", "/media")  # where Debian's desktops and udisks mount sticks


def mounted_stick() -> str:
    """The first folder a stick seems mounted on, or "" (the user then types where)."""
    user = getpass.getuser()
    for pattern in MOUNTS:
        base = Path(pattern.format(user=user))
        found = sorted(path for path in base.iterdir() if path.is_dir() and path.name != user) if base.is_dir() else []
        if found:
            return str(found[0])
    return ""


class BackupScreen(ClinicScreen):
    BINDINGS = [
        Binding("f2", "backup", N_("Back up"), id="backup", priority=True),
        Binding("escape", "app.pop_screen", N_("Back"), id="back"),
        Binding("f12", "app.lock", N_("Lock"), id="lock"),
    ]
    AUTO_FOCUS = "#destination"
    DEFAULT_CSS = """
    #backup { padding: 0 1; }
    #backup Input { margin-bottom: 1; }
    """

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with VerticalScroll(id="backup"):
            yield Static(_("Back up to a stick"), classes="title")
            yield Static(_("The copy is encrypted: restoring it needs your passphrase or a supervisor's. "
                           "You can go on working while it is made."))
            yield Static(_("Folder of the stick"), classes="title")
            yield Input(mounted_stick(), placeholder=_("for example /media/clinic/STICK"), id="destination",
                        compact=True)
            yield Static(_("Your passphrase, then F2"), classes="title")
            yield Input(password=True, id="passphrase", compact=True)
            yield Label("", id="backup-error", classes="error")
            yield Static("", id="backup-result")
        yield Footer()

    @on(Input.Submitted, "#destination")
    def to_passphrase(self) -> None:
        self.query_one("#passphrase", Input).focus()

    @on(Input.Submitted, "#passphrase")
    def action_backup(self) -> None:
        destination = self.query_one("#destination", Input).value.strip()
        error = self.query_one("#backup-error", Label)
        if not destination:
            error.update(_("type the folder of the stick"))
            return
        error.update("")
        self.query_one("#backup-result", Static).update(_("Backing up…"))
        self._back_up(Path(destination), self.query_one("#passphrase", Input).value)

    @background(group="backup", exclusive=True)
    async def _back_up(self, destination: Path, passphrase: str) -> None:
        self.query_one("#passphrase", Input).value = ""
        result = self.query_one("#backup-result", Static)
        try:
            made = await self.desk.backup(destination, passphrase)
        except FieldkitError as exc:
            result.update("")
            self.query_one("#backup-error", Label).update(_(str(exc)))
            return
        result.update(_("Backed up {entries} entries into {folder} ({size} MB).").format(
            entries=number(made.entries), folder=made.folder, size=number(made.size / 1e6, 1)))
