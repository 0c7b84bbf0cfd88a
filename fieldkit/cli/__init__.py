"""The `fieldkit` command: `fieldkit` alone opens the clinic screen; everything else is a subcommand.

One module per command group, each building on `context` and none on another. Every failure a
user can cause prints one line to stderr and exits 1, never a traceback (FIELDKIT_DEBUG=1 shows
it). Read commands take --json and print one JSON document.
"""

from __future__ import annotations

import os
import sys

import click

from fieldkit.cli import (
    backup,
    database,
    encounters,
    export,
    hub,
    labs,
    letters,
    network,
    patients,
    programmes,
    referrals,
    session,
    setup,
    sync,
    users,
    vaccines,
)
from fieldkit.cli.context import Context, open_tui

DISK_FULL = "the disk is full, so nothing was saved: free some space, then try again"
DISK_FAILED = "the disk could not be written (is it full?), so nothing was saved: free some space, then try again"


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
                encounters.encounter, referrals.referral, programmes.programme, letters.letter, database.db,
                database.audit, network.network, sync.sync, hub.hub, labs.lab, labs.screening_round,
                vaccines.vaccine, export.export, backup.backup, backup.restore):
    cli.add_command(command)


def run(args: list[str]) -> int:
    """Run one command line; its exit status. Every failure a user can cause is one line on
    stderr (FIELDKIT_DEBUG=1 shows the traceback instead)."""
    from click import ClickException

    try:
        cli.main(args, standalone_mode=False, prog_name="fieldkit")
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except ClickException as exc:
        exc.show()
        return exc.exit_code
    except SystemExit as exc:  # a command's own verdict, such as a check that failed
        return exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except Exception as exc:  # the one place every failure becomes one line
        if os.environ.get("FIELDKIT_DEBUG"):
            raise
        from fieldkit.errors import FieldkitError, disk_refused

        refused = disk_refused(exc)
        if refused:  # the user can act on it: the write was rolled back
            click.echo("error: " + (DISK_FULL if refused == "full" else DISK_FAILED), err=True)
            return 1
        message = str(exc) if isinstance(exc, FieldkitError) else f"internal error: {type(exc).__name__}: {exc}"
        click.echo(f"error: {message}", err=True)
        return 1 if isinstance(exc, FieldkitError) else 2
    return 0


def main() -> None:
    sys.exit(run(sys.argv[1:]))
