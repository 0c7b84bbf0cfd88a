"""Bars drawn with block characters: the day summary's chart and the sync screen's progress."""

from __future__ import annotations

EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(count: int, most: int, width: int) -> str:
    """`count` as a run of blocks, in eighths of a cell, the longest `width` cells; never empty
    for a count above zero, so one encounter is never drawn as none."""
    if not count:
        return ""
    full, rest = divmod(max(1, round(count / most * width * 8)), 8)
    return "█" * full + EIGHTHS[rest].strip()
