"""Calendar days as people type them: day/month/year with `/`, `.` or `-`, or ISO, in any digits.

Every locale the clinics use (en_GB, French, Arabic, Persian, Vietnamese) writes the day first,
so 03/04/2027 is 3 April; ISO (year first, four digits) is read as well, being what storage and
the older screens used. A two-digit year is refused rather than guessed: for a birth date "31/12/25"
could be 1925 or 2025, a century apart, and a wrong guess would stay in the record unnoticed.
Messages are in the user's language and say which form was expected.
"""

from __future__ import annotations

import re
from datetime import date

from fieldkit.i18n import _, digits
from fieldkit.text import ascii_digits, clean_text

# ARABIC DATE SEPARATOR (U+060D) and the fraction slash some layouts give for "/".
_SEPARATORS = str.maketrans({"\u060d": "/", "\u2044": "/", "\u2215": "/"})
_TYPED = re.compile(r"(\d{1,4})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{1,4})")
EXAMPLE = "31/12/1990"


class DateProblem(ValueError):
    """What was typed is not a day; the message (already translated) says what was expected."""


def expected() -> str:
    return _("type day/month/year, like {example}").format(example=digits(EXAMPLE))


def parse_day(typed: str | date) -> date:
    """The day meant by `typed`; DateProblem with a one-line message in the user's language if none."""
    if isinstance(typed, date):
        return typed
    text = ascii_digits(clean_text(str(typed))).translate(_SEPARATORS)
    found = _TYPED.fullmatch(text)
    if not found:
        raise DateProblem(_("“{typed}” is not a date: {expected}").format(typed=typed, expected=expected()))
    first, month, last = found.groups()
    if len(first) == 4:
        year, day = first, last
    elif len(last) == 4:
        year, day = last, first
    elif len(last) <= 2 and len(first) <= 2:
        raise DateProblem(_("“{typed}”: write the year with four digits, like {example}").format(
            typed=typed, example=digits(EXAMPLE)))
    else:
        raise DateProblem(_("“{typed}” is not a date: {expected}").format(typed=typed, expected=expected()))
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        raise DateProblem(_("“{typed}” is not a day of the calendar: {expected}").format(
            typed=typed, expected=expected())) from None
