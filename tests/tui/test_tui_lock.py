"""Locked, the clinic screen shows nothing of any patient, whichever screen it locked over and in
whichever theme or language: the lock screen covers what is beneath instead of dimming it."""

from __future__ import annotations

import asyncio

import pytest
from tui_support import PASSPHRASE, screen, sign_in, until

from fieldkit.records.services import Clinic
from fieldkit.store.keystore import Keystore
from fieldkit.tui.app import FieldkitApp
from fieldkit.tui.pin import Pin

PIN = "2468"
# Written on some screen below: names, a place, a phone, a name being typed.
MARKERS = ("فاطمة", "الحسن", "Nguyễn", "Hương", "Trang", "905123456", "Zahra")


@pytest.fixture
def crowded(home, conflict):
    """Fatima with a birth-date conflict, Nguyễn Thị Hương of Nha Trang, and Hương registered a
    second time anyway (a pair the merge screen lists)."""
    from fieldkit.store.session import unlock

    store, user = unlock(home, "amina", PASSPHRASE)
    huong = {"given_name": "Hương", "other_names": "Thị", "family_name": "Nguyễn", "sex": "female",
             "birth_date": "1990-05-04", "phone": "+84905123456", "locality": "Nha Trang"}
    Clinic(store, user).register(huong)
    Clinic(store, user).register(huong, reason="a second card")
    store.close()
    return home


def shown_markers(app) -> set[str]:
    drawn = app.export_screenshot()
    return {marker for marker in MARKERS if marker in drawn}


async def lock_and_look(pilot, where: str) -> None:
    """Lock over the screen now open (as the idle timer does), check nothing of a patient is
    drawn, and unlock with the session PIN."""
    app = pilot.app
    await until(pilot, lambda: screen(app) == where)
    await pilot.pause(0.2)
    app.action_lock()
    await until(pilot, lambda: screen(app) == "LockScreen")
    await pilot.pause(0.1)
    assert shown_markers(app) == set(), where
    await pilot.press(*PIN, "enter")
    await until(pilot, lambda: screen(app) == where)


@pytest.mark.parametrize("language,theme", [("en", "textual-dark"), ("ar", "textual-light"), ("vi", "ansi-dark")])
async def test_nothing_of_a_patient_shows_on_the_lock_screen(crowded, language, theme):
    await asyncio.to_thread(Keystore(crowded.keystore).set_language, "amina", language)
    app = FieldkitApp(crowded)
    async with app.run_test(size=(80, 24)) as pilot:
        app.theme = theme
        await sign_in(pilot)
        app.pin = Pin(PIN)  # unlocks at once: the passphrase would cost a key derivation per screen
        home = app.screen
        await until(pilot, lambda: home.query_one("#results").row_count == 3)
        assert {"Nguyễn", "Hương", "Trang"} <= shown_markers(app)  # otherwise the test proves nothing
        await lock_and_look(pilot, "HomeScreen")

        await pilot.press(*"fatima")
        await until(pilot, lambda: home.query_one("#results").row_count == 1)
        await pilot.press("enter")
        await until(pilot, lambda: screen(app) == "ChartScreen" and "فاطمة" in shown_markers(app))
        await lock_and_look(pilot, "ChartScreen")
        await pilot.press("f5")
        await until(pilot, lambda: screen(app) == "EncounterScreen")
        await lock_and_look(pilot, "EncounterScreen")
        await pilot.press("escape")
        await until(pilot, lambda: screen(app) == "ChartScreen")
        await pilot.press("escape")

        for key, where, seen in (("f7", "MergeScreen", "Hương"), ("f8", "ConflictScreen", "فاطمة"),
                                 ("f6", "SummaryScreen", None), ("f9", "SyncScreen", None),
                                 ("f11", "SettingsScreen", None), ("f4", "RegisterScreen", "Zahra")):
            await until(pilot, lambda: screen(app) == "HomeScreen")
            await pilot.press(key)
            await until(pilot, lambda where=where: screen(app) == where)
            if where == "RegisterScreen":
                await pilot.press(*"Zahra")
            if seen:
                await until(pilot, lambda seen=seen: seen in shown_markers(app))
            await lock_and_look(pilot, where)
            await pilot.press("escape")
