"""The README's command table lists exactly the commands `fieldkit` has: a new command needs its
line, and a line for a command that is gone fails."""

from __future__ import annotations

import re
from pathlib import Path

import click

from fieldkit.cli import cli

README = Path(__file__).resolve().parents[2] / "README.md"


def commands(group: click.Group, path: tuple[str, ...] = ("fieldkit",)) -> set[str]:
    found = {" ".join(path)} if path == ("fieldkit",) else set()
    for name, command in group.commands.items():
        found |= commands(command, (*path, name)) if isinstance(command, click.Group) else {" ".join((*path, name))}
    return found


def documented() -> set[str]:
    section = README.read_text().split("## Command reference", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `fieldkit")]
    named = set()
    for row in rows:
        for usage in re.findall(r"`(fieldkit[^`]*)`", row.split(" | ")[0]):
            # The command is the words before the first argument or option (CAPITALS, [, -, a value).
            words = re.match(r"fieldkit(?: [a-z][a-z0-9-]*(?![A-Z=]))*", usage).group(0).split()
            named.add(" ".join(words))
    return named


def test_the_command_table_lists_exactly_the_commands():
    assert documented() == commands(cli)
