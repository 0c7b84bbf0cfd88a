"""Right-to-left text on terminals that disagree about bidi (reference/ecosystem.md 4.5).

Textual draws cells left to right and has no bidi. Some terminals reorder each line themselves
(VTE, Konsole, mlterm), most do not (xterm, Alacritty, Windows Terminal), and HarfBuzz terminals
shape each word but never reorder the words. No one setting reads right on all of them, so the
laptop keeps one render mode, chosen on a test card by whoever can read the result:

- `terminal`: logical order; the terminal reorders and shapes.
- `app`: this module reorders each cell (python-bidi) and joins the letters (arabic-reshaper,
  lam-alef ligatures off so widths stay one cell per letter); VTE is told to keep its hands off.
- `words`: words reordered here, letters left logical for the terminal to shape.

Only what is drawn changes: stored, searched and exported text stays logical (pitfall 1 in 4.3).
"""

from __future__ import annotations

import re
from functools import cache

MODES = ("terminal", "app", "words")
# VTE's explicit-mode switch (terminal-wg bidi proposal): the app has laid the line out itself.
EXPLICIT, IMPLICIT = "\x1b[8l", "\x1b[8h"
_RTL = re.compile(r"[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]")
# Letters only: Arabic-Indic and Persian digits already run left to right after reordering.
_RTL_WORD = re.compile(r"[\u0590-\u065f\u066a-\u06ef\u06fa-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]+")

_mode = "terminal"


def set_mode(mode: str) -> None:
    global _mode
    if mode not in MODES:
        raise ValueError(f"render mode is one of {', '.join(MODES)}, not {mode!r}")
    _mode = mode


def mode() -> str:
    return _mode


@cache
def _reshaper():
    import arabic_reshaper

    return arabic_reshaper.ArabicReshaper(configuration={"support_ligatures": False})


def render(line: str, how: str) -> str:
    """One line as `how` lays it out; lines without right-to-left letters pass untouched."""
    if how == "terminal" or not _RTL.search(line):
        return line
    from bidi import get_display

    if how == "app":
        return get_display(_reshaper().reshape(line))
    # words: the visual order of the words, each word's letters back in logical order
    return _RTL_WORD.sub(lambda word: word.group()[::-1], get_display(line))


def shown(text: str | None) -> str:
    """Text as this laptop's terminal needs it drawn, line by line (never across cells)."""
    if not text:
        return text or ""
    if _mode == "terminal":
        return text
    return "\n".join(render(line, _mode) for line in text.split("\n"))


# What the test card shows: Arabic, Persian, and the mixed line that breaks most terminals.
TEST_CARD = (
    "مرحبا بكم في العيادة",
    "پرونده بیمار شماره ۱۲",
    "فاطمة الحسن 1988 BP 120/80 mmHg",
)
