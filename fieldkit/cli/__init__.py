"""The `fieldkit` command: `fieldkit` alone opens the clinic screen; everything else is a subcommand.

One module per command group, each building on `context` and none on another. Every failure a
user can cause prints one line to stderr and exits 1, never a traceback (FIELDKIT_DEBUG=1 shows
it). Read commands take --json and print one JSON document.
"""

from __future__ import annotations

import os
import sys

import click

from fieldkit.cli import database, encounters, hub, network, patients, session, setup, sync, users
from fieldkit.cli.context import Context, open_tui


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", envvar="FIELDKIT_HOME", help="Data directory (default: FIELDKIT_HOME or ~/.local/share/fieldkit).")
@click.option("--user", "-u", envvar="FIELDKIT_USER", help="Sign in as this user (default: the only user, or ask).")
@click.version_option(package_name="fieldkit")
@click.pass_context
def cli(ctx: click.Context, home: str | None, user: str | None) -> None:
    """Offline-first field clinic kit. Without a command, opens the clinic screen."""
    ctx.obj = Context(home, user)
    if ctx.invoked_subcommand is None:
        open_tui(ctx.obj)


for command in (setup.init, setup.demo, session.unlock, session.lock, users.user, patients.patient,
                encounters.encounter, database.db, database.audit, network.network, sync.sync, hub.hub):
    cli.add_command(command)


def main() -> None:
    from click import ClickException

    try:
        cli.main(standalone_mode=False, prog_name="fieldkit")
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except Exception as exc:
        if os.environ.get("FIELDKIT_DEBUG"):
            raise
        from fieldkit.errors import FieldkitError

        message = str(exc) if isinstance(exc, FieldkitError) else f"internal error: {type(exc).__name__}: {exc}"
        click.echo(f"error: {message}", err=True)
        sys.exit(1 if isinstance(exc, FieldkitError) else 2)
