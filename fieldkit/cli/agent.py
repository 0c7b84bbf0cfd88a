"""The process `fieldkit unlock` leaves running: it holds the key (fieldkit.store.agent) and runs
the short commands a script sends it, so each costs a connection instead of a Python start-up
and a page of imports (fieldkit.launch decides which commands come here).

Run as `python -m fieldkit.cli.agent HOME`, with the user and the key on its stdin. Commands run
one at a time, each with the caller's FIELDKIT_* settings and working directory, and their
output is sent back whole.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fieldkit.store import agent
from fieldkit.store.home import Home
from fieldkit.store.keystore import User


@contextlib.contextmanager
def as_the_caller(env: dict[str, str], cwd: str) -> Iterator[None]:
    """The caller's FIELDKIT_* settings and working directory, for one command; no terminal."""
    saved_env, saved_cwd, saved_stdin = dict(os.environ), os.getcwd(), sys.stdin
    for name in [name for name in os.environ if name.startswith("FIELDKIT_")]:
        del os.environ[name]
    os.environ.update({name: value for name, value in env.items() if name.startswith("FIELDKIT_")})
    os.chdir(cwd)
    sys.stdin = io.StringIO()  # a question would wait for an answer that cannot come: it is refused
    try:
        yield
    finally:
        sys.stdin = saved_stdin
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)


def run_command(request: dict[str, Any]) -> dict[str, Any] | None:
    if request.get("op") != "run":
        return None
    from fieldkit.cli import run  # (imported already, at start)

    out, err = io.StringIO(), io.StringIO()
    with as_the_caller(request["env"], request["cwd"]), contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(err):
        try:
            code = run(list(request["args"]))
        except BaseException:  # noqa: BLE001 - FIELDKIT_DEBUG's traceback, or worse: the caller's, not the agent's end
            traceback.print_exc()
            code = 2
    return {"stdout": out.getvalue(), "stderr": err.getvalue(), "code": code}


def main() -> None:
    home = Home(Path(sys.argv[1]))
    given = json.loads(sys.stdin.readline())
    held = agent.Unlocked(User(**given["user"]), bytes.fromhex(given["key"]), float(given["until"]))

    import fieldkit.cli
    import fieldkit.records.services  # noqa: F401

    def ready() -> None:  # tell the starting command, then let go of its pipe
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())

    try:
        agent.serve(home, held, ready, handle=run_command)
    except Exception as exc:  # noqa: BLE001 - said to the starting command, if it still listens
        print(exc, flush=True)


if __name__ == "__main__":
    main()
