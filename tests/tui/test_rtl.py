"""Right-to-left `app` mode: every line of every screen laid out by one filter, at 80x24 (issue 16, point 9).

The screen is read back from its screenshot, as a reader sees it: in Arabic, the first word of a
phrase must stand to the right of the second, brackets must be mirrored, a long name wrapped on the
chart keeps its first word on the first line, and English-only lines are drawn as they are.
"""

from __future__ import annotations

import re

import pytest
from tui_support import PASSPHRASE, drawn_rows, screen, sign_in, until

from fieldkit import i18n
from fieldkit.records.services import Clinic
from fieldkit.store.keystore import Keystore
from fieldkit.store.session import unlock
from fieldkit.tui import rtl
from fieldkit.tui.app import FieldkitApp

LONG_NAME = {"given_name": "عبد الرحمن محمد", "other_names": "صالح إبراهيم عبد الكريم يوسف",
             "family_name": "العبد الله الحسيني القرشي الهاشمي", "sex": "male", "birth_date": "1970-01-01"}


@pytest.fixture
def arabic_app(home):
    """The demo nurse reads Arabic, and this laptop lays right-to-left text out itself."""
    store, user = unlock(home, "amina", PASSPHRASE)
    Clinic(store, user).register(LONG_NAME)
    store.close()
    laptop = Keystore(home.keystore)
    laptop.set_language("amina", "ar")
    laptop.set_setting("rtl_mode", "app")
    yield home
    i18n.set_language("en")
    rtl.set_mode("terminal")


_LOGICAL_LETTER = re.compile(r"[\u0621-\u064a\u067e\u0686\u0698\u06a9\u06af\u06cc]")
_ARABIC_WORD = re.compile(r"[\u0621-\u065f\u067e\u0686\u0698\u06a9\u06af\u06cc]{2,}")


def drawn(word: str) -> str:
    """A word as app mode draws it: letters joined, then right to left."""
    return rtl._reshaper().reshape(word)[::-1]


def reads_right_to_left(lines: list[str], logical: str) -> bool:
    """The first two Arabic words of `logical` (without harakat) stand on one drawn row, the first to the right."""
    first, second = [word for word in _ARABIC_WORD.findall(logical) if not re.search("[\u064b-\u065f]", word)][:2]
    return any(drawn(first) in row and drawn(second) in row and row.index(drawn(first)) > row.index(drawn(second))
               for row in lines)


def phrase(app) -> str:
    """A line of this screen with two Arabic words: its title, else the status bar."""
    for widget in [*app.screen.query(".title"), *app.screen.query("StatusBar")]:
        text = str(widget.render())
        if len([w for w in _ARABIC_WORD.findall(text) if not re.search("[\u064b-\u065f]", w)]) >= 2:
            return text
    raise AssertionError(f"no Arabic line on {screen(app)}")


OPEN = {  # screen: keys from the chart of Fatima (the home screen after a search for her)
    "HomeScreen": (), "ChartScreen": ("enter",), "EncounterScreen": ("enter", "f5"), "RegisterScreen": ("f4",),
    "MergeScreen": ("f7",), "SyncScreen": ("f9",), "SettingsScreen": ("f11",), "UsersScreen": ("f10",),
    "ConflictScreen": ("f8",), "SummaryScreen": ("f6",),
}


@pytest.mark.parametrize("name", list(OPEN))
async def test_every_screen_is_laid_out_right_to_left(arabic_app, name):
    app = FieldkitApp(arabic_app, idle_lock_seconds=10**6)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await pilot.press(*"fatima")
        await until(pilot, lambda: app.screen.query_one("#results").row_count == 1)
        for key in OPEN[name]:
            await pilot.press(key)
            await pilot.pause(0.3)
        await until(pilot, lambda: screen(app) == name)
        await pilot.pause(0.5)
        lines = drawn_rows(app)
        if name != "SettingsScreen":  # its test card shows the other modes' logical letters on purpose
            unshaped = [row for row in lines if _LOGICAL_LETTER.search(row)]
            assert not unshaped, f"drawn without the filter on {name}: {unshaped}"
        assert reads_right_to_left(lines, phrase(app)), "\n".join(lines)
        if name in ("HomeScreen", "ChartScreen"):
            assert reads_right_to_left(lines, "فاطمة الحسن"), "\n".join(lines)


async def test_brackets_mirror_and_a_long_name_wraps_first_word_first(arabic_app):
    app = FieldkitApp(arabic_app, idle_lock_seconds=10**6)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await pilot.press(*"القرشي")
        await until(pilot, lambda: app.screen.query_one("#results").row_count == 1)
        await pilot.press("enter")
        await until(pilot, lambda: screen(app) == "ChartScreen" and app.screen.record is not None)
        await pilot.pause(0.5)
        lines = drawn_rows(app)
        first_line = next(row for row in lines if drawn("الرحمن") in row or drawn("عبد") in row)
        assert first_line.rstrip().endswith(drawn("عبد")), "\n".join(lines)  # the name's first word, rightmost
        await pilot.press("f5")
        await until(pilot, lambda: screen(app) == "EncounterScreen")
        await pilot.pause(0.5)
        lines = drawn_rows(app)
        assert any("(C°)" in row for row in lines) and not any(")C°(" in row for row in lines), "\n".join(lines)
        # An impossible temperature: its refusal keeps the value and the range in view, laid out whole.
        await pilot.press(*"52", "tab")
        await pilot.pause(0.5)
        lines = drawn_rows(app)
        assert any(("52" in row or "٥٢" in row) and ("45" in row or "٤٥" in row) for row in lines), "\n".join(lines)


async def test_english_lines_are_drawn_as_they_are(home):
    Keystore(home.keystore).set_setting("rtl_mode", "app")
    try:
        app = FieldkitApp(home, idle_lock_seconds=10**6)
        async with app.run_test(size=(80, 24)) as pilot:
            await sign_in(pilot)
            await pilot.press(*"fatima")
            await until(pilot, lambda: app.screen.query_one("#results").row_count == 1)
            await pilot.pause(0.3)
            lines = drawn_rows(app)
            assert any("Register" in row for row in lines)
            assert reads_right_to_left(lines, "فاطمة الحسن")  # her name in the English list is laid out too
    finally:
        rtl.set_mode("terminal")
