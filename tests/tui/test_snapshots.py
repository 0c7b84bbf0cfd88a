"""What each screen looks like, at 80x24 and 120x40, and key screens in Arabic and Vietnamese.

The SVGs under `__snapshots__/` were checked by eye; `pytest --snapshot-update` rewrites them
after a deliberate change. They are pytest-textual-snapshot's SVG files, taken under `run_test`
like every other Pilot test here, once every worker has finished and with the cursor's blink
stopped; times that depend on when the test runs are pinned. So a difference is always a change
in the screen.
"""

from __future__ import annotations

import difflib
import html
import re

import pytest
from pytest_textual_snapshot import SVGImageExtension
from textual.widgets import Input
from tui_support import PASSPHRASE, screen, sign_in, until

from fieldkit import i18n
from fieldkit.records.services import Clinic
from fieldkit.store.keystore import Keystore
from fieldkit.store.session import unlock
from fieldkit.tui import conflicts as conflict_screen
from fieldkit.tui.app import FieldkitApp

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
NEIGHBOURS = [
    {"given_name": "Hương", "other_names": "Thị", "family_name": "Nguyễn", "sex": "female",
     "birth_date": "1990-05-14", "locality": "Sóc Trăng", "phone": "+84912345678"},
    {"given_name": "Amadou", "family_name": "Diallo", "sex": "male", "birth_date": "1975-01-01",
     "birth_date_estimated": True, "locality": "Kayes"},
    {"given_name": "زهرا", "family_name": "احمدی", "sex": "female", "birth_date": "2001-09-30",
     "locality": "مشهد", "allergies": ["آسپرین"]},
]


@pytest.fixture
def clinic(home):
    store, user = unlock(home, "amina", PASSPHRASE)
    for person in NEIGHBOURS:
        Clinic(store, user).register(person)
    store.close()
    return home


@pytest.fixture
def speaking(clinic):
    """Sign-in in the given language (the user's own setting), and English again afterwards."""
    def speak(language: str):
        Keystore(clinic.keystore).set_language("amina", language)
        return clinic
    yield speak
    i18n.set_language("en")


@pytest.fixture
def snap(snapshot):
    """Compare the screen after `steps` with its stored SVG."""
    svg = snapshot.use_extension(SVGImageExtension)

    async def compare(home, steps, size=(80, 24)) -> bool:
        app = FieldkitApp(home, idle_lock_seconds=10**6)
        async with app.run_test(size=size) as pilot:
            await steps(pilot)
            await until(pilot, lambda: app.sync_state.pending_for_hub > 0 or screen(app) == "UnlockScreen")
            try:
                await until(pilot, lambda: not any(worker.is_running for worker in app.workers))
            except AssertionError:
                raise AssertionError(f"still running: {[w for w in app.workers if w.is_running]}") from None
            for field in app.screen.query(Input):
                field.cursor_blink = False
            shot = await settled(pilot)
            stored, _ = svg._recall_data(index=svg.index)
            assert svg == shot, "the screen differs from its snapshot:\n" + "\n".join(
                difflib.unified_diff(screen_text(stored), screen_text(shot), lineterm="", n=0))
            return True
    return compare


async def settled(pilot, seconds: float = 5) -> str:
    """The screenshot once two taken 0.1 s apart agree: a recount landing late is not a change."""
    await pilot.wait_for_scheduled_animations()
    shot = pilot.app.export_screenshot()
    for _ in range(int(seconds / 0.1)):
        await pilot.pause(0.1)
        again = pilot.app.export_screenshot()
        if again == shot:
            return shot
        shot = again
    return shot


def screen_text(svg: str | None) -> list[str]:
    """The text of an SVG screenshot, one string per row, for a readable difference."""
    rows: dict[float, list[str]] = {}
    for y, text in re.findall(r'<text[^>]*\by="([\d.]+)"[^>]*>(.*?)</text>', svg or ""):
        rows.setdefault(float(y), []).append(html.unescape(text))
    return ["".join(rows[y]) for y in sorted(rows)]


async def find(pilot, typed: str) -> None:
    await pilot.press(*typed)
    await until(pilot, lambda: pilot.app.screen.query_one("#results").row_count >= 1)


async def open_chart(pilot, typed: str) -> None:
    await find(pilot, typed)
    await pilot.press("enter")
    await until(pilot, lambda: screen(pilot.app) == "ChartScreen" and pilot.app.screen.record is not None)


async def fill_encounter(pilot, typed: str) -> None:
    await open_chart(pilot, typed)
    await pilot.press("f5")
    await until(pilot, lambda: screen(pilot.app) == "EncounterScreen")
    for reading in ("38.6", "112", "24", "98", "60", "93"):
        await pilot.press(*reading, "tab")
    await pilot.press("c", "tab")
    await pilot.pause(0.2)


@pytest.mark.parametrize("size", SIZES)
async def test_sign_in(snap, clinic, size):
    async def ready(pilot):
        await until(pilot, lambda: screen(pilot.app) == "UnlockScreen" and pilot.app.screen.focused is not None)
    assert await snap(clinic, ready, size)


@pytest.mark.parametrize("size", SIZES)
async def test_home_search(snap, clinic, size):
    async def run(pilot):
        await sign_in(pilot)
        await find(pilot, "nguyen")
    assert await snap(clinic, run, size)


@pytest.mark.parametrize("size", SIZES)
async def test_chart(snap, clinic, size):
    async def run(pilot):
        await sign_in(pilot)
        await open_chart(pilot, "zahra")
    assert await snap(clinic, run, size)


@pytest.mark.parametrize("size", SIZES)
async def test_encounter_with_live_scores(snap, clinic, size):
    async def run(pilot):
        await sign_in(pilot)
        await fill_encounter(pilot, "amadou")
    assert await snap(clinic, run, size)


@pytest.mark.parametrize("size", SIZES)
async def test_registration_duplicate_warning(snap, clinic, size):
    async def run(pilot):
        await sign_in(pilot)
        await pilot.press("f4")
        await until(pilot, lambda: screen(pilot.app) == "RegisterScreen")
        await pilot.press(*"فاطمة", "tab", "tab", *"الحسن", "tab", *"1988-03-02", "f2")
        await until(pilot, lambda: pilot.app.screen.query_one("#duplicates").row_count >= 1)
    assert await snap(clinic, run, size)


@pytest.mark.parametrize("size", SIZES)
async def test_conflict_inbox(snap, clinic, conflict, monkeypatch, size):
    monkeypatch.setattr(conflict_screen, "when", lambda ver: "2026-11-20T10:30")
    async def run(pilot):
        await sign_in(pilot)
        await pilot.press("f8")
        await until(pilot, lambda: screen(pilot.app) == "ConflictScreen" and pilot.app.screen.conflicts)
    assert await snap(clinic, run, size)


@pytest.mark.parametrize("size", SIZES)
async def test_settings_and_rtl_test_card(snap, clinic, size):
    async def run(pilot):
        await sign_in(pilot)
        await pilot.press("f11")
        await until(pilot, lambda: screen(pilot.app) == "SettingsScreen")
    assert await snap(clinic, run, size)


@pytest.mark.parametrize("size", SIZES)
async def test_sync_screen(snap, clinic, size):
    async def run(pilot):
        await sign_in(pilot)
        await pilot.press("f9")
        await until(pilot, lambda: screen(pilot.app) == "SyncScreen")
    assert await snap(clinic, run, size)


@pytest.mark.parametrize("size", SIZES)
async def test_lock_screen(snap, clinic, size):
    async def run(pilot):
        await sign_in(pilot)
        # The home screen settles first: behind a modal screen it is not drawn again, so a lock
        # pressed mid-layout would keep a half-drawn table in the picture.
        await until(pilot, lambda: pilot.app.screen.query_one("#results").row_count >= 1)
        await settled(pilot)
        await pilot.press("f12")
        await until(pilot, lambda: screen(pilot.app) == "LockScreen")
    assert await snap(clinic, run, size)


@pytest.mark.parametrize("language", ["ar", "vi"])
async def test_home_in_language(snap, speaking, language):
    async def run(pilot):
        await sign_in(pilot)
        await find(pilot, "فاطمة" if language == "ar" else "hương")
    assert await snap(speaking(language), run, (80, 24))


@pytest.mark.parametrize("language", ["ar", "vi"])
async def test_encounter_in_language(snap, speaking, language):
    async def run(pilot):
        await sign_in(pilot)
        await fill_encounter(pilot, "amadou")
    assert await snap(speaking(language), run, (80, 24))


async def test_chart_in_arabic(snap, speaking):
    async def run(pilot):
        await sign_in(pilot)
        await open_chart(pilot, "zahra")
    assert await snap(speaking("ar"), run, (120, 40))


@pytest.mark.parametrize("size", SIZES)
async def test_day_summary(snap, clinic, size):
    from datetime import date

    from fieldkit.tui.summary import SummaryScreen

    async def run(pilot):
        await sign_in(pilot)
        await pilot.app.push_screen(SummaryScreen(date(2026, 11, 20)))  # a pinned day: the title names it
        await until(pilot, lambda: screen(pilot.app) == "SummaryScreen")
    assert await snap(clinic, run, size)


@pytest.mark.parametrize("size", SIZES)
async def test_users_and_roles(snap, clinic, size):
    async def run(pilot):
        await sign_in(pilot)
        await pilot.press("f10")
        await until(pilot, lambda: screen(pilot.app) == "UsersScreen")
    assert await snap(clinic, run, size)


@pytest.fixture
def registered_twice(clinic):
    store, user = unlock(clinic, "amina", PASSPHRASE)
    Clinic(store, user).register({"given_name": "فاطمه", "family_name": "الحسن", "sex": "female",
                                  "birth_date": "1988-03-02"}, reason="says she never came before")
    store.close()
    return clinic


@pytest.mark.parametrize("size", SIZES)
async def test_merge_flagged_duplicates(snap, registered_twice, size):
    async def run(pilot):
        await sign_in(pilot)
        await pilot.press("f7")
        await until(pilot, lambda: screen(pilot.app) == "MergeScreen")
    assert await snap(registered_twice, run, size)
