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

One render path: every line any widget draws (labels, tables, inputs, the footer, notifications)
passes through `BidiFilter`, a Textual line filter the app adds to its own. It sees each line of a
widget after Textual has wrapped and cropped it, so a wrapped name keeps its first word on the first
line, and it moves characters with their styles, so a cursor or a highlight stays on its letter.
Screens hand over logical text and never lay it out themselves.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import cache

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.color import Color
from textual.filter import LineFilter
from textual.widgets import Static

from fieldkit.i18n import right_to_left

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
    return "".join(segment.text for segment in laid_out([Segment(line)], how))


def _levels(text: str, base: str | None) -> list[tuple[int, str]]:
    """The characters of `text` in visual order, as (logical index, glyph), brackets mirrored.

    python-bidi's Rust `get_display` neither mirrors brackets nor tells which character went where,
    and a line's styles must travel with its characters: its pure-Python steps (UAX #9 W, N, I, L1,
    L2, L4) are run on entries that remember their logical index."""
    from bidi import algorithm as uax9

    storage = uax9.get_empty_storage()
    storage["base_level"] = uax9.get_base_level(text) if base is None else uax9.PARAGRAPH_LEVELS[base]
    storage["base_dir"] = ("L", "R")[storage["base_level"]]
    uax9.get_embedding_levels(text, storage)
    for index, entry in enumerate(storage["chars"]):
        entry["index"] = index
    uax9.explicit_embed_and_overrides(storage)
    uax9.resolve_weak_types(storage)
    uax9.resolve_neutral_types(storage, False)
    uax9.resolve_implicit_levels(storage, False)
    uax9.reorder_resolved_levels(storage, False)
    uax9.apply_mirroring(storage, False)
    return [(entry["index"], entry["ch"]) for entry in storage["chars"]]


def _visual(run: str, how: str) -> Iterator[tuple[int, str]]:
    """One run of text laid out: (logical index, glyph) left to right, one cell for one cell.

    Combining marks (harakat) stay after their letter; the base direction is the reader's language's
    when it is right to left, else the run's own first strong letter (an Arabic name in English)."""
    letters: list[int] = []  # logical index of each letter; its marks follow it
    for index, char in enumerate(run):
        if not (letters and unicodedata.combining(char)):
            letters.append(index)
    bare = "".join(run[i] for i in letters)
    shaped = _reshaper().reshape(bare) if how == "app" else bare
    if len(shaped) != len(bare) or cell_len(shaped) != cell_len(bare):
        shaped = bare  # a letter the shaper would merge or widen: left unjoined rather than misaligned
    order = _levels(bare, "R" if right_to_left() else None)
    if how == "words":  # the terminal joins the letters: each word's letters back in logical order
        order = _words_logical(order, bare)
    ends = [*letters[1:], len(run)]
    for position, glyph in order:
        first = letters[position]
        yield first, glyph if glyph != bare[position] else shaped[position]
        yield from ((i, run[i]) for i in range(first + 1, ends[position]))


def _words_logical(order: list[tuple[int, str]], bare: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    word: list[tuple[int, str]] = []
    for entry in order:
        if _RTL_WORD.fullmatch(bare[entry[0]]):
            word.append(entry)
            continue
        out += [*word[::-1], entry]
        word = []
    return out + word[::-1]


# A run is text between column gaps: two spaces or more (table cells, padded fields) or a border's
# line; each run is laid out in its own cells, so columns and borders never move.
_RUN = re.compile(r"[^ \u2500-\u259f]+(?: [^ \u2500-\u259f]+)*")


def laid_out(segments: list[Segment], how: str) -> list[Segment]:
    """A drawn line with its right-to-left runs laid out as `how` says, each character keeping its style."""
    if how == "terminal" or any(segment.control for segment in segments):
        return segments
    text = "".join(segment.text for segment in segments)
    if not _RTL.search(text):
        return segments
    styles: list[Style | None] = [segment.style for segment in segments for _char in segment.text]
    chars, drawn = list(text), list(styles)
    for run in _RUN.finditer(text):
        if not _RTL.search(run.group()):
            continue
        start = run.start()
        for cell, (index, glyph) in enumerate(_visual(run.group(), how), start=start):
            chars[cell], drawn[cell] = glyph, styles[start + index]
    out: list[Segment] = []
    for char, style in zip(chars, drawn, strict=True):
        if out and out[-1].style == style:
            out[-1] = Segment(out[-1].text + char, style)
        else:
            out.append(Segment(char, style))
    return out


class BidiFilter(LineFilter):
    """The one render path of right-to-left text (see the module's notes): on in `app` and `words` mode."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        return laid_out(segments, _mode)


BIDI = BidiFilter()


class LaidOut(Static):
    """Text already in visual order (the test card's samples of each mode): the filter leaves it be."""

    def get_line_filters(self) -> list[LineFilter]:
        return [f for f in super().get_line_filters() if not isinstance(f, BidiFilter)]


# What the test card shows: Arabic, Persian, and the mixed line that breaks most terminals.
TEST_CARD = (
    "مرحبا بكم في العيادة",
    "پرونده بیمار شماره ۱۲",
    "فاطمة الحسن 1988 BP 120/80 mmHg",
)
