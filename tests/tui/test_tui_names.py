"""A name is shown in the order its owner says it: Vietnamese family first (Nguyễn Thị Hương),
chosen at registration from the clerk's language and kept with the patient, so an English-speaking
clerk later sees it the same way."""

from __future__ import annotations

import asyncio

import pytest
from tui_support import PASSPHRASE, screen, sign_in, text, until

from fieldkit.records.names import full_name, usual_order
from fieldkit.records.services import Clinic
from fieldkit.store.keystore import Keystore
from fieldkit.store.session import unlock
from fieldkit.tui.app import FieldkitApp

HUONG = {"given_name": "Hương", "other_names": "Thị", "family_name": "Nguyễn"}


def test_a_name_is_joined_in_its_own_order():
    assert full_name(HUONG) == "Hương Thị Nguyễn"
    assert full_name(HUONG | {"name_order": "family-first"}) == "Nguyễn Thị Hương"
    assert full_name({"given_name": "Lan", "family_name": "Trần", "name_order": "family-first"}) == "Trần Lan"
    assert (usual_order("vi"), usual_order("ar"), usual_order("fa")) == ("family-first", "given-first", "given-first")


@pytest.mark.parametrize(("language", "usual"), [("vi", "family-first"), ("ar", "given-first")])
async def test_a_clerk_registers_a_name_in_her_languages_order_and_everyone_sees_it_so(home, language, usual):
    await asyncio.to_thread(Keystore(home.keystore).set_language, "amina", language)
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await pilot.press("f4")
        await until(pilot, lambda: screen(app) == "RegisterScreen")
        assert app.screen.query_one("#name_order").value == usual  # the clerk's language decides the default
        await pilot.press(*"Hương", "tab", *"Thị", "tab", *"Nguyễn", "f2")
        shown = full_name(HUONG | {"name_order": usual})
        await until(pilot, lambda: screen(app) == "ChartScreen" and shown in text(app, "#demographics"))
    store, user = await asyncio.to_thread(unlock, home, "amina", PASSPHRASE)
    with store:
        [found] = await asyncio.to_thread(Clinic(store, user).search, "huong")
    assert found.full_name == shown  # the same in search, whoever looks
