"""The `fieldkit` command's front door.

While `fieldkit unlock` holds the key for this data directory, a short command (finding, showing,
registering, recording, checking) is handed to that process, which runs it with its imports
already done and sends the output back: a script's command then costs a connection rather than a
Python start-up, the command line's imports and opening the store. Anything else, or with no
unlocked session, runs here as always. Only the standard library is imported before deciding.
"""

from __future__ import annotations

import os
import sys

# Commands worth handing over: short, no questions asked, their output all they leave behind.
HANDED_OVER = {("patient",), ("encounter",), ("db", "check"), ("db", "rebuild"), ("audit", "verify"),
               ("user", "list"), ("network", "show"), ("sync", "status")}
GLOBAL_OPTIONS = {"--home", "--user", "-u"}  # the group's options that take a value


def command_words(args: list[str]) -> tuple[list[str], dict[str, str]]:
    """The command's words after the group's options, and those options (--home, --user)."""
    options: dict[str, str] = {}
    rest = list(args)
    while rest and rest[0].startswith("-"):
        option = rest.pop(0)
        name, equals, value = option.partition("=")
        if name not in GLOBAL_OPTIONS:
            return [], options  # --help, --version or a mistake: answered here
        options[name] = value if equals else (rest.pop(0) if rest else "")
    return rest, options


def handed_over(args: list[str]) -> int | None:
    """The exit status of the command as the unlocked session ran it, or None to run it here."""
    words, options = command_words(args)
    if not any(tuple(words[:n]) in HANDED_OVER for n in (1, 2)) or {"-h", "--help"} & set(args):
        return None
    from fieldkit.store.agent import ask
    from fieldkit.store.home import Home

    home = Home.resolve(options.get("--home"))
    env = {name: value for name, value in os.environ.items() if name.startswith("FIELDKIT_")}
    env["FIELDKIT_HOME"] = str(home.path.resolve())
    answer = ask(home, {"op": "run", "args": args, "env": env, "cwd": os.getcwd()}, timeout=None)
    if answer is None:
        return None
    sys.stdout.write(answer["stdout"])
    sys.stderr.write(answer["stderr"])
    return int(answer["code"])


def main() -> None:
    code = handed_over(sys.argv[1:])
    if code is None:
        from fieldkit.cli import main as run_here

        run_here()
    sys.exit(code)
