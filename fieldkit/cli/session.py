"""`fieldkit unlock` and `fieldkit lock`: an unlocked session for scripts (fieldkit.store.agent)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import click

from fieldkit.cli.context import Context

if TYPE_CHECKING:
    from fieldkit.store.home import Home
    from fieldkit.store.keystore import User

_UNITS = {"s": 1, "m": 60, "h": 3600}


def seconds(text: str) -> int:
    """30s, 10m, 2h or a number of minutes, as typed."""
    found = re.fullmatch(r"\s*(\d+)\s*([smh]?)\s*", text)
    if not found:
        raise click.BadParameter(f"{text!r} is not a duration such as 30s, 10m or 2h")
    return int(found[1]) * _UNITS[found[2] or "m"]


def start(home: Home, user: User, key: bytes, seconds: float) -> float:
    """Start the agent (fieldkit.cli.agent) holding `key` for `seconds`, replacing one already
    running; its deadline."""
    from fieldkit.errors import FieldkitError
    from fieldkit.store import agent

    if not 0 < seconds <= agent.LONGEST:
        raise FieldkitError(f"an unlocked session lasts from a second to {agent.LONGEST // 3600} hours")
    agent.socket_path(home)
    agent.lock(home)
    until = time.time() + seconds
    # The key goes through a pipe, never the command line or the environment, which others can read.
    child = subprocess.Popen([sys.executable, "-m", "fieldkit.cli.agent", str(home.path)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             start_new_session=True, close_fds=True)
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write(json.dumps({"user": vars(user), "key": key.hex(), "until": until}).encode() + b"\n")
    child.stdin.close()
    ready = child.stdout.readline()
    child.stdout.close()
    if ready.strip() != b"ready":
        child.kill()
        raise FieldkitError(f"the unlocked session did not start: {ready.decode(errors='replace').strip() or 'no answer'}")
    return until


@click.command()
@click.option("--for", "duration", default="10m", show_default=True, help="How long: 30s, 10m, 2h (at most 12h).")
@click.pass_obj
def unlock(context: Context, duration: str) -> None:
    """Unlock this laptop for scripts: your commands skip the passphrase until the time is up."""
    from fieldkit.errors import FieldkitError
    from fieldkit.store.keystore import Keystore

    home = context.home
    if not home.exists:
        raise FieldkitError(f"no clinic in {home.path} (run `fieldkit init` or `fieldkit demo`)")
    user, key = Keystore(home.keystore).unlock(context.user_name(), context.passphrase())
    until = start(home, user, key, seconds(duration))
    click.echo(f"unlocked as {user.name} until {time.strftime('%H:%M', time.localtime(until))}; "
               "`fieldkit lock` ends it sooner")


@click.command()
@click.pass_obj
def lock(context: Context) -> None:
    """End the unlocked session now."""
    from fieldkit.store import agent

    click.echo("locked" if agent.lock(context.home) else "there was no unlocked session")
