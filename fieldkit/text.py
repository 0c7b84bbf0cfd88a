"""Text hygiene at the boundary: every name, identifier and number typed by a user passes here.

A leaf module (standard library only) so that both the domain (validation) and the store (the
fold builds the search index) can use it without the layers pointing at each other.
"""

from __future__ import annotations

import re
import unicodedata

# Explicit bidi embeddings, overrides, isolates and marks. They are invisible, so in a name or an
# identifier they can only disguise one value as another ("bidi spoofing"); logical order is kept
# and direction is decided at render time.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
_BIDI_TABLE = {ord(c): None for c in BIDI_CONTROLS}

# Arabic-Indic (U+0660..) and Extended Arabic-Indic, i.e. Persian (U+06F0..), digits.
_DIGITS = {0x0660 + i: str(i) for i in range(10)} | {0x06F0 + i: str(i) for i in range(10)}
_NUMBER_TABLE = _DIGITS | {
    0x066B: ".",  # ARABIC DECIMAL SEPARATOR: float() refuses it
    0x066C: None,  # ARABIC THOUSANDS SEPARATOR
    0x060C: ".",  # ARABIC COMMA, typed as a decimal separator on Arabic layouts
    0x2212: "-",  # MINUS SIGN
}
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_SPACES = re.compile(r"\s+")


def clean_text(value: str) -> str:
    """NFC-normalise, drop bidi controls and collapse runs of whitespace."""
    text = unicodedata.normalize("NFC", value).translate(_BIDI_TABLE)
    return _SPACES.sub(" ", text).strip()


def split_list(value: str) -> list[str]:
    """Items typed as a list: separated by a Latin comma or the Arabic comma (U+060C) that Arabic
    and Persian keyboards type, blanks dropped."""
    return [item.strip() for item in value.replace("\u060c", ",").split(",") if item.strip()]


def ascii_digits(value: str) -> str:
    """Replace Arabic-Indic and Persian digits with ASCII ones, leaving everything else."""
    return value.translate(_DIGITS)


def parse_number(value: str | int | float) -> float:
    """Read a number typed in any of the clinic's scripts; raise ValueError with the text if not.

    Accepts ASCII, Arabic-Indic and Persian digits, the Arabic decimal separator and a decimal
    comma ("37,5" as typed in French), so 37.5, ٣٧٫٥, ۳۷٫۵ and 37,5 are all 37.5.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        text = clean_text(value).translate(_NUMBER_TABLE).replace(" ", "")
        if text.count(",") == 1 and "." not in text:
            text = text.replace(",", ".")
        if not _NUMBER.fullmatch(text):
            raise ValueError(f"not a number: {value!r}")
        number = float(text)
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(f"not a number: {value!r}")
    return number
