"""Textual's own words on the command palette (^p), in the user's language: its footer key, its
search placeholder and the system commands Textual adds (theme, quit, keys, screenshot).

Textual writes these in English; the clinic app routes them through here so that no screen
shows English to staff who do not read it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from textual.app import App, SystemCommand
from textual.command import CommandPalette

from fieldkit.i18n import N_, _

FOOTER_KEY = N_("commands")
PLACEHOLDER = N_("Search for commands…")
# Textual's system commands, title and help, as Textual 8 writes them: marked for the catalogue.
SYSTEM = (
    N_("Theme"), N_("Change the current theme"),
    N_("Quit"), N_("Quit the application as soon as possible"),
    N_("Keys"), N_("Show help for the focused widget and a summary of available keys"),
    N_("Hide the keys and widget help panel"),
    N_("Maximize"), N_("Maximize the focused widget"),
    N_("Minimize"), N_("Minimize the widget and restore to normal size"),
    N_("Screenshot"), N_("Save an SVG 'screenshot' of the current screen"),
)


def speak_footer_key(app: App) -> None:
    """The palette's footer key in the current language (Textual adds that binding itself)."""
    keys = app._bindings.key_to_bindings
    keys[app.COMMAND_PALETTE_BINDING] = [replace(binding, description=_(FOOTER_KEY))
                                         if binding.action == "command_palette" else binding
                                         for binding in keys.get(app.COMMAND_PALETTE_BINDING, [])]


def translated(commands: Iterable[SystemCommand]) -> Iterable[SystemCommand]:
    """Textual's system commands in the current language; one it adds later stays as it wrote it."""
    for command in commands:
        yield command._replace(title=_(command.title), help=_(command.help))


def palette() -> CommandPalette:
    return CommandPalette(placeholder=_(PLACEHOLDER), id="--command-palette")
