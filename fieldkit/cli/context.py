"""What every command shares: the data directory, who signs in, how results are printed.

Imports of the store, the domain and the screens happen inside commands, so `fieldkit --help`
and a command that needs little start fast.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from fieldkit.records.services import Clinic
    from fieldkit.store.db import Store
    from fieldkit.store.home import Home
    from fieldkit.store.keystore import User

DEMO_USER = "demo"
DEMO_PASSPHRASE = "demo-clinic-2026"


class Context:
    def __init__(self, home: str | None, user: str | None) -> None:
        self.home_option = home
        self.user_option = user
        self.demo_passphrase: str | None = None  # only `fieldkit demo`'s: its sign-in screen shows it

    @property
    def home(self) -> Home:
        from fieldkit.store.home import Home

        return Home.resolve(self.home_option)

    def passphrase(self, prompt: str = "Passphrase") -> str:
        return os.environ.get("FIELDKIT_PASSPHRASE") or click.prompt(prompt, hide_input=True)

    def user_name(self) -> str:
        from fieldkit.store.keystore import Keystore

        if self.user_option:
            return self.user_option
        users = Keystore(self.home.keystore).users() if self.home.exists else []
        if len(users) == 1:
            return users[0].name
        return str(click.prompt("User"))

    def open(self) -> tuple[Store, User]:
        """Unlock as the chosen user (through the unlocked session, if one is running for them);
        the caller closes the store. Imports only what opening needs: a command starts fast."""
        store, user, _key = self.open_keyed()
        return store, user

    def open_keyed(self) -> tuple[Store, User, bytes]:
        """As `open`, with the database key (for a backup)."""
        from fieldkit.records import site
        from fieldkit.store import agent
        from fieldkit.store.db import Store

        home = self.home
        site.use(home.path)  # the clinic's own facilities and programmes
        unlocked = agent.fetch(home) if home.exists else None
        from fieldkit.store.session import refuse_revoked, unlock_keyed

        if unlocked and self.user_option in (None, unlocked.user.name, unlocked.user.id):
            return refuse_revoked(Store(home.database, unlocked.key), unlocked.user), unlocked.user, unlocked.key

        return unlock_keyed(home, self.user_name(), self.passphrase())

    def clinic(self) -> Clinic:
        """The clinic's use cases, unlocked as `open` does; the caller closes `clinic.store`."""
        from fieldkit.records.services import Clinic

        return Clinic(*self.open())

    def supervisor(self) -> tuple[Store, User]:
        """Unlock as a supervisor, or refuse in one line."""
        from fieldkit.permissions import allowed

        store, user = self.open()
        if not allowed(user.role, "enrol laptops"):
            store.close()
            raise click.ClickException("only a supervisor can enrol or revoke laptops")
        return store, user


def emit(data: Any, as_json: bool, text: str) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str) if as_json else text)


json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")


def host_port(text: str, default_port: int) -> tuple[str, int]:
    """HOST or HOST:PORT as typed."""
    host, _, port = text.rpartition(":") if ":" in text else (text, "", str(default_port))
    if not port.isdigit():
        raise click.BadParameter(f"{text!r} is not HOST or HOST:PORT")
    return host, int(port)


def open_tui(context: Context) -> None:
    from fieldkit.tui.app import run

    run(context.home, user=context.user_option, shown_passphrase=context.demo_passphrase)
