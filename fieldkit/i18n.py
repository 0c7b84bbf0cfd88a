"""What people read, in their language: gettext catalogues, and numbers and dates per locale.

Only display changes. Storage, search keys and the journal keep canonical text (ASCII digits,
ISO dates), so a record written in Persian reads the same in French on the next laptop.

The language is a process-wide setting because one person uses the clinic screen at a time; the
screen switches it at sign-in (each user keeps their own) and whenever the user changes it.
Strings are looked up when they are shown, never at import, so switching takes effect on the
next screen drawn. `N_` marks a string for the catalogue where it is defined (a table, a key
binding) and `_` translates it where it is shown.
"""

from __future__ import annotations

import gettext as _gettext
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from babel import Locale


DOMAIN = "fieldkit"
CATALOGUES = Path(__file__).parent / "locale"

# Each language's own name for itself, as a picker shows it.
LANGUAGES = {"en": "English", "fr": "Français", "ar": "العربية", "fa": "فارسی", "vi": "Tiếng Việt"}
# The CLDR locale used for formats: the countries the programmes serve (Syria for Arabic gives
# Arabic-Indic digits; Iran for Persian gives Persian digits).
LOCALES = {"en": "en_GB", "fr": "fr_FR", "ar": "ar_SY", "fa": "fa_IR", "vi": "vi_VN"}
DIGITS = {"arab": "٠١٢٣٤٥٦٧٨٩", "arabext": "۰۱۲۳۴۵۶۷۸۹"}

_language = "en"  # the process's language: the signed-in user's, set once the screen opens
# A language spoken for a while on top of it: a letter in the patient's language, a hub page in its
# reader's. A context variable, so two pages rendered at once in two languages (and the worker
# threads they hand files to, which copy the context) each speak their own.
_speaking: ContextVar[str | None] = ContextVar("speaking", default=None)


@cache
def _catalogue(language: str) -> _gettext.NullTranslations:
    return _gettext.translation(DOMAIN, CATALOGUES, languages=[language], fallback=True)


def _known(language: str) -> str:
    if language not in LANGUAGES:
        raise ValueError(f"no catalogue for {language!r}; choose one of {', '.join(LANGUAGES)}")
    return language


def set_language(language: str) -> None:
    global _language
    _language = _known(language)


@contextmanager
def using_language(language: str) -> Iterator[None]:
    """Speak another language for a while (in this task or thread and what it starts), then back."""
    token = _speaking.set(_known(language))
    try:
        yield
    finally:
        _speaking.reset(token)


def language() -> str:
    return _speaking.get() or _language


def _(message: str) -> str:
    return _catalogue(language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _catalogue(language()).ngettext(singular, plural, n)


# Languages whose users live by the Solar Hijri calendar (Iran's civil one): dates are shown in it.
SOLAR_HIJRI = {"fa"}


def N_(message: str) -> str:
    return message


@cache
def _locale(language: str) -> "Locale":
    from babel import Locale  # Babel's import costs tens of milliseconds the CLI need not pay

    return Locale.parse(LOCALES[language])


def right_to_left(spoken: str | None = None) -> bool:
    """Whether a language (the one spoken now, unless named) is written right to left."""
    return _locale(spoken or language()).text_direction == "rtl"


def digits(text: str) -> str:
    """ASCII digits in `text` written in the locale's own digits (display only)."""
    own = DIGITS.get(_locale(language()).default_numbering_system)
    return text.translate(str.maketrans("0123456789", own)) if own else text


def number(value: float | int, places: int | None = None) -> str:
    from babel.numbers import format_decimal

    pattern = None if places is None else "#,##0." + "0" * places if places else "#,##0"
    shown = format_decimal(value, format=pattern, locale=_locale(language()), numbering_system="default")
    return digits(shown)


def day(value: date | str) -> str:
    """A calendar day as the locale writes it, in its civil calendar; ISO strings (storage's form)
    are accepted."""
    from babel.dates import format_date

    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    if language() in SOLAR_HIJRI:
        return digits(_solar_hijri(value))
    return digits(format_date(value, "medium", locale=_locale(language())))


def moment(value: datetime | str) -> str:
    """A date and time to the minute: the day written as `day` writes it (one date style per
    locale on every screen), then the locale's short time."""
    from babel.dates import format_time

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    comma = "، " if right_to_left() else ", "
    return f"{day(value.date())}{comma}{digits(format_time(value, 'short', locale=_locale(language())))}"


def day_entered(value: date | str) -> str:
    """A day someone typed, echoed for checking: in a Solar Hijri locale with the Gregorian date
    beside it, since papers from hospitals abroad and national IDs carry that one."""
    from babel.dates import format_date

    shown = day(value)
    if language() not in SOLAR_HIJRI:
        return shown
    gregorian = date.fromisoformat(value[:10]) if isinstance(value, str) else value
    return f"{shown} ({digits(format_date(gregorian, 'medium', locale=_locale(language())))})"


def _solar_hijri(value: date) -> str:
    import jdatetime  # only Persian users pay for it

    shown = jdatetime.date.fromgregorian(date=value)
    return f"{shown.day} {jdatetime.date.j_months_fa[shown.month - 1]} {shown.year}"
