"""`fieldkit unlock` and `fieldkit lock`: an unlocked session for scripts (fieldkit.store.agent)."""

from __future__ import annotations

import re
import time

import click

from fieldkit.cli.context import Context

_UNITS = {"s": 1, "m": 60, "h": 3600}


def seconds(text: str) -> int:
    """30s, 10m, 2h or a number of minutes, as typed."""
    found = re.fullmatch(r"\s*(\d+)\s*([smh]?)\s*", text)
    if not found:
        raise click.BadParameter(f"{text!r} is not a duration such as 30s, 10m or 2h")
    return int(found[1]) * _UNITS[found[2] or "m"]


@click.command()
@click.option("--for", "duration", default="10m", show_default=True, help="How long: 30s, 10m, 2h (at most 12h).")
@click.pass_obj
def unlock(context: Context, duration: str) -> None:
    """Unlock this laptop for scripts: your commands skip the passphrase until the time is up."""
    from fieldkit.errors import FieldkitError
    from fieldkit.store import agent
    from fieldkit.store.keystore import Keystore

    home = context.home
    if not home.exists:
        raise FieldkitError(f"no clinic in {home.path} (run `fieldkit init` or `fieldkit demo`)")
    user, key = Keystore(home.keystore).unlock(context.user_name(), context.passphrase())
    until = agent.start(home, user, key, seconds(duration))
    click.echo(f"unlocked as {user.name} until {time.strftime('%H:%M', time.localtime(until))}; "
               "`fieldkit lock` ends it sooner")


@click.command()
@click.pass_obj
def lock(context: Context) -> None:
    """End the unlocked session now."""
    from fieldkit.store import agent

    click.echo("locked" if agent.lock(context.home) else "there was no unlocked session")
