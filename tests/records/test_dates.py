"""Days as people type them: day first with `/`, `.` or `-`, or ISO, in any digits; refusals say
which form was expected, in the user's language; two-digit years are refused, never guessed."""

from __future__ import annotations

from datetime import date

import pytest

from fieldkit import i18n
from fieldkit.records.dates import DateProblem, parse_day


@pytest.mark.parametrize("typed", [
    "31/12/1990", "31.12.1990", "31-12-1990", "1990-12-31", "1990/12/31", "31 / 12 / 1990", "31/12-1990",
    "٣١/١٢/١٩٩٠", "۳۱/۱۲/۱۹۹۰", "۱۹۹۰-۱۲-۳۱", "٣١\u060d١٢\u060d١٩٩٠", "\u200f31/12/1990\u200f",
])
def test_the_forms_people_type(typed):
    assert parse_day(typed) == date(1990, 12, 31)


def test_the_day_comes_first():
    assert parse_day("3/4/2027") == date(2027, 4, 3)
    assert parse_day("03.04.2027") == date(2027, 4, 3)


@pytest.mark.parametrize("typed, says", [
    ("31/12/90", "write the year with four digits, like 31/12/1990"),
    ("12/31/1990", "is not a day of the calendar: type day/month/year, like 31/12/1990"),
    ("29/02/2023", "is not a day of the calendar"),
    ("next week", "is not a date: type day/month/year, like 31/12/1990"),
    ("31121990", "is not a date"),
    ("", "is not a date"),
    ("1/2/345", "is not a date"),
])
def test_what_is_not_a_day_says_what_was_expected(typed, says):
    with pytest.raises(DateProblem) as refused:
        parse_day(typed)
    assert says in str(refused.value) and "\n" not in str(refused.value)
    assert f"“{typed}”" in str(refused.value), "the message shows what was typed"


@pytest.mark.parametrize("language, says", [("ar", "اكتب السنة بأربعة أرقام، مثل ٣١/١٢/١٩٩٠"),
                                            ("vi", "viết năm đủ bốn chữ số, ví dụ 31/12/1990"),
                                            ("fa", "سال را چهاررقمی بنویسید، مانند ۳۱/۱۲/۱۹۹۰")])
def test_refusals_in_the_users_language_and_digits(language, says):
    i18n.set_language(language)
    try:
        with pytest.raises(DateProblem, match=says):
            parse_day("31/12/90")
    finally:
        i18n.set_language("en")
