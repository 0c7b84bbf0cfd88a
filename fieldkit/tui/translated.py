"""Screens whose key descriptions follow the signed-in user's language.

Binding descriptions are declared in English, marked with `N_` for the catalogue, and translated
when a screen is made: switching language rebuilds the screens, so the footer follows.
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from textual.screen import Screen

from fieldkit.i18n import _
from fieldkit.records.roles import allowed
from fieldkit.tui.rtl import shown


class Translated:
    """Mix into a Screen (first in the bases) to show its footer in the current language."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        keys = self._bindings.key_to_bindings
        for key, bindings in keys.items():
            keys[key] = [replace(b, description=shown(_(b.description))) if b.description else b for b in bindings]


class RoleScreen(Translated, Screen):
    """A screen for one action of `roles.ALLOWED`: the app asks it before opening it, and it
    refuses itself if pushed for someone who may not use it."""

    ACTION: ClassVar[str]
    REFUSAL: ClassVar[str]  # marked with N_, said with _

    @classmethod
    def allows(cls, role: str) -> bool:
        return allowed(role, cls.ACTION)

    def refused(self) -> bool:
        """True, with the refusal said and the screen gone, unless the signed-in user may use it."""
        if self.allows(self.app.desk.user.role):
            return False
        self.app.notify(_(self.REFUSAL), severity="warning")
        self.app.pop_screen()
        return True
