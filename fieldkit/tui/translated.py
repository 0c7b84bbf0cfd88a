"""Screens whose key descriptions follow the signed-in user's language.

Binding descriptions are declared in English, marked with `N_` for the catalogue, and translated
when a screen is made: switching language rebuilds the screens, so the footer follows.
"""

from __future__ import annotations

from dataclasses import replace

from fieldkit.i18n import _
from fieldkit.tui.rtl import shown


class Translated:
    """Mix into a Screen (first in the bases) to show its footer in the current language."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        keys = self._bindings.key_to_bindings
        for key, bindings in keys.items():
            keys[key] = [replace(b, description=shown(_(b.description))) if b.description else b for b in bindings]
