"""The home screen as staff work from it at 80x24: today's lists with their true counts, paged and
opened with Enter; search results that tell namesakes apart; typing that always reaches the
search box; a phone search too short to be one, said so. In English, Arabic and Vietnamese."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
from tui_support import PASSPHRASE, screen, sign_in, text, until

from fieldkit.i18n import number, set_language
from fieldkit.records.services import Clinic
from fieldkit.store.keystore import Keystore
from fieldkit.tui.app import FieldkitApp

ZAHRA = {"given_name": "زهرا", "family_name": "سلیمانی", "sex": "female", "birth_date": "1992-01-15"}
TWINS = [ZAHRA | {"phone": "+989121110001", "identifiers": {"IR-NID": "0012345678"}, "locality": "تهران"},
         ZAHRA | {"phone": "+989352220002", "locality": "کرمانشاه"}]
TASKS = 11  # more than a page of each list (8)


@pytest.fixture
def busy(home):
    """Fatima, two Zahra Soleimani born the same year, and eleven patients each with a follow-up
    overdue and an urgent referral waiting."""
    from fieldkit.store.session import unlock

    store, user = unlock(home, "amina", PASSPHRASE)
    clinic = Clinic(store, user)
    for twin in TWINS:
        clinic.register(twin, reason="not the same woman")
    for n in range(TASKS):
        patient = clinic.register({"given_name": f"Task{n:02d}", "family_name": "Tran", "sex": "male"}).patient_id
        clinic.record_encounter({"patient_id": patient, "diagnoses": [{"text": "cough"}],
                                 "follow_up": {"due": (date.today() - timedelta(days=n % 3)).isoformat(),
                                               "reason": "review"},
                                 "referral": {"to_facility": "Hospital", "reason": "x-ray", "urgency": "urgent"}})
    store.close()
    return home


async def speaking(home, language: str) -> None:
    await asyncio.to_thread(Keystore(home.keystore).set_language, "amina", language)


def row_text(app, selector: str) -> list[str]:
    table = app.screen.query_one(selector)
    return [" ".join(map(str, table.get_row_at(i))) for i in range(table.row_count)]


@pytest.mark.parametrize("language", ["en", "ar", "vi"])
async def test_todays_lists_show_their_count_page_and_open_the_chart(busy, language):
    await speaking(busy, language)
    app = FieldkitApp(busy)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        set_language(language)
        eleven = number(TASKS)
        await until(pilot, lambda: app.screen.query_one("#due").row_count == 8)
        assert f": {eleven}" in text(app, "#due-title") and f"{number(1)}–{number(8)}" in text(app, "#due-title")
        assert f": {eleven}" in text(app, "#referrals-title")
        assert app.screen.query_one("#referrals").row_count == 8

        home = app.screen
        home.query_one("#due").focus()
        await pilot.press("pagedown")
        await until(pilot, lambda: app.screen.query_one("#due").row_count == TASKS - 8)
        assert f"{number(9)}–{eleven}" in text(app, "#due-title")
        await pilot.press("down", "enter")
        await until(pilot, lambda: screen(app) == "ChartScreen" and "Task" in text(app, "#demographics"))
        assert app.screen.patient_id == home.tasks["due"][1]  # the row the cursor was on

        await pilot.press("escape")
        await until(pilot, lambda: screen(app) == "HomeScreen")
        app.screen.query_one("#referrals").focus()
        await pilot.press("enter")
        await until(pilot, lambda: screen(app) == "ChartScreen")


@pytest.mark.parametrize("language", ["en", "ar", "vi"])
async def test_namesakes_are_told_apart_by_phone_and_identifier_within_80_columns(busy, language):
    await speaking(busy, language)
    app = FieldkitApp(busy)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        set_language(language)
        await pilot.press(*"زهرا سلیمانی")
        await until(pilot, lambda: app.screen.query_one("#results").row_count == 2)
        rows = " | ".join(row_text(app, "#results"))
        for twin in TWINS:
            assert twin["phone"] in rows
        assert "0012345678" in rows and "کرمانشاه" in rows  # an identifier, or else the place
        table = app.screen.query_one("#results")
        assert table.virtual_size.width <= table.scrollable_content_region.width  # nothing off to the side
        assert not app.screen.query_one("#today").display  # the results take the width while searching


async def test_typing_after_a_chart_reaches_the_search_box(busy):
    app = FieldkitApp(busy)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await pilot.press(*"fatima")
        await until(pilot, lambda: app.screen.query_one("#results").row_count == 1)
        await pilot.press("down", "enter")
        await until(pilot, lambda: screen(app) == "ChartScreen")
        await pilot.press("escape")
        await until(pilot, lambda: screen(app) == "HomeScreen")
        assert app.screen.focused is app.screen.query_one("#results")  # where Enter was pressed
        await pilot.press(*" alh")  # nothing is lost: the letters go to the search
        search = app.screen.query_one("#search")
        await until(pilot, lambda: app.screen.focused is search)
        assert search.value == "fatima alh"

        app.screen.query_one("#due").focus()  # from today's lists too
        await pilot.press("x")
        await until(pilot, lambda: search.value == "fatima alhx")


@pytest.mark.parametrize("language,typed", [("en", "1234"), ("ar", "١٢٣٤٥"), ("vi", "0912")])
async def test_a_phone_too_short_to_search_says_why(busy, language, typed):
    await speaking(busy, language)
    app = FieldkitApp(busy)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        set_language(language)
        await pilot.press(*typed)
        await until(pilot, lambda: number(6) in text(app, "#results-title"))
        assert app.screen.query_one("#results").row_count == 0
        await pilot.press(*["backspace"] * len(typed), *"9121110001")  # a phone's last digits: found
        await until(pilot, lambda: app.screen.query_one("#results").row_count == 1)
