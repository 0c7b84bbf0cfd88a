"""The clinic screen driven as staff use it, on a real encrypted database, with every database
call from the event loop forbidden."""

from __future__ import annotations

import asyncio

import pytest
from tui_support import PASSPHRASE, open_encounter_for_fatima, passphrase_field_ready, screen, sign_in, text, until

from fieldkit.records.services import Clinic
from fieldkit.store.home import Home
from fieldkit.tui.app import FieldkitApp
from fieldkit.tui.pin import Pin


async def test_guard_catches_a_database_call_on_the_loop(home):
    from fieldkit.store.session import unlock

    store, user = await asyncio.to_thread(unlock, home, "amina", PASSPHRASE)
    with pytest.raises(AssertionError, match="on the event loop"):
        Clinic(store, user).search("fatima")
    await asyncio.to_thread(store.close)


async def test_unlock_search_chart_encounter_and_lock(home):
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: passphrase_field_ready(app))
        await pilot.press(*"wrong passphrase", "enter")
        await until(pilot, lambda: "wrong passphrase" in text(app, "#unlock-error"))
        await sign_in(pilot)
        assert "amina (supervisor)" in text(app, "StatusBar") and "offline" in text(app, "StatusBar")
        assert "hub never, 2 pending" in text(app, "StatusBar")  # the supervisor and the patient

        await pilot.press(*"fatima")
        await until(pilot, lambda: app.screen.query_one("#results").row_count == 1
                    and "found" in text(app, "#results-title"))
        await pilot.press("enter")
        await until(pilot, lambda: screen(app) == "ChartScreen" and "فاطمة" in text(app, "#demographics"))
        assert "ALLERGIES: penicillin" in text(app, "#allergies")

        await pilot.press("f5")
        await until(pilot, lambda: screen(app) == "EncounterScreen")
        for reading in ("39.2", "118", "24", "98", "60", "93"):  # temperature, pulse, RR, SBP, DBP, SpO2
            await pilot.press(*reading, "tab")
        await until(pilot, lambda: "NEWS2 10 high" in text(app, "#scores"))
        assert "qSOFA 2 high" in text(app, "#scores")
        await pilot.press("f2")
        await until(pilot, lambda: screen(app) == "EscalateScreen")  # NEWS2 10: refer, or say why not
        await pilot.press("2", *"doctor at the bedside", "enter")
        await until(pilot, lambda: screen(app) == "ChartScreen" and "NEWS2 10 high" in text(app, "#encounters"))
        await until(pilot, lambda: "hub never, 3 pending" in text(app, "StatusBar"))  # the count follows the save

        await pilot.press("f12")
        await until(pilot, lambda: screen(app) == "LockScreen")
        await pilot.press(*"not it", "enter")
        await until(pilot, lambda: "wrong passphrase" in text(app, "#lock-error"))
        await pilot.press(*PASSPHRASE, "enter")
        await until(pilot, lambda: screen(app) == "ChartScreen")


async def test_impossible_reading_is_refused_on_blur_and_alarming_one_flagged(home):
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await open_encounter_for_fatima(pilot)
        await pilot.press(*"52", "tab")
        await until(pilot, lambda: "not possible" in text(app, "#temperature_c-note"))
        assert "25–45" in text(app, "#temperature_c-note")
        await pilot.press(*"٢٠٠", "tab")  # pulse 200, typed in Arabic-Indic digits
        await until(pilot, lambda: "very high" in text(app, "#pulse-note"))
        await pilot.press("f2")
        await until(pilot, lambda: "Temperature: 52.0 °C" in text(app, "#encounter-error"))
        assert screen(app) == "EncounterScreen"


async def test_consciousness_is_one_key_after_spo2_in_any_layout(home):
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await open_encounter_for_fatima(pilot)
        app.screen.query_one("#spo2").focus()
        await pilot.press(*"97", "tab", "x", "tab")
        await until(pilot, lambda: "refused" in text(app, "#avpu-note"))
        app.screen.query_one("#avpu").value = ""
        app.screen.query_one("#avpu").focus()
        await pilot.press("٣", "tab")  # 3 = responds to Voice, typed on an Arabic layout
        await until(pilot, lambda: "Voice" in text(app, "#avpu-note"))
        assert "Consciousness 3" in text(app, "#scores")


async def test_a_draft_survives_leaving_the_form(home):
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await open_encounter_for_fatima(pilot)
        await pilot.press(*"37.8", "tab", *"88")
        await pilot.pause(0.3)
        await pilot.press("escape")
        await until(pilot, lambda: screen(app) == "ChartScreen")
        await pilot.press("f5")
        await until(pilot, lambda: screen(app) == "EncounterScreen"
                    and app.screen.query_one("#pulse").value == "88")
        assert app.screen.query_one("#temperature_c").value == "37.8"


async def register_fatima_again(pilot) -> None:
    """F4, Fatima with her phone typed in, F2: the warning of the likely duplicate is up."""
    app = pilot.app
    await pilot.press("f4")
    await until(pilot, lambda: screen(app) == "RegisterScreen")
    await pilot.press(*"فاطمه", "tab", "tab", *"الحسن", "tab", "tab", "tab", *"0944123456")
    await pilot.press("f2")
    await until(pilot, lambda: app.screen.query_one("#duplicates").row_count == 1)


async def test_registration_warns_of_a_duplicate_before_saving(home):
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await register_fatima_again(pilot)
        assert "same phone" in str(app.screen.query_one("#duplicates").get_row_at(0))
        app.screen.query_one("#reason").focus()
        await pilot.press(*"different mother", "f2")
        await until(pilot, lambda: screen(app) == "ChartScreen" and "فاطمه" in text(app, "#demographics"))


async def test_idle_app_locks_itself(home):
    app = FieldkitApp(home, idle_lock_seconds=0.5)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await until(pilot, lambda: screen(app) == "LockScreen", seconds=5)


async def test_supervisor_resolves_a_conflict_from_the_inbox(home, conflict):
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await pilot.press("f8")
        await until(pilot, lambda: screen(app) == "ConflictScreen"
                    and app.screen.query_one("#conflict-list").row_count == 1)
        assert "1987-03-02" in text(app, "#candidates") and "1989-03-02" in text(app, "#candidates")
        assert "by amina at" in text(app, "#candidates")  # a name, not a user id
        await pilot.press("enter", "2", "tab", "f2")
        await until(pilot, lambda: "reason" in text(app, "#conflict-error"))
        await pilot.press(*"birth certificate seen", "f2")
        await until(pilot, lambda: "No conflict waiting" in text(app, "#conflicts-title"))
        record = await app.desk.patient(conflict)
    assert record["birth_date"] == "1989-03-02" and record["conflicts"] == []


async def test_command_palette_finds_a_patient_by_arabic_name(home):
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await pilot.press("ctrl+p")
        await until(pilot, lambda: screen(app) == "CommandPalette")
        await pilot.press(*"فاطمه")
        await until(pilot, lambda: "الحسن" in str(app.screen.query_one("CommandList").get_option_at_index(0).prompt))
        await pilot.press("enter")
        await until(pilot, lambda: screen(app) == "ChartScreen" and "فاطمة" in text(app, "#demographics"))


async def test_first_run_creates_the_clinic_and_signs_in(tmp_path):
    home = Home(tmp_path / "new")
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: getattr(app.screen.focused, "id", None) == "new-user")
        await pilot.press(*"amina", "enter", *PASSPHRASE, "enter", *"something else", "enter")
        await until(pilot, lambda: "differ" in text(app, "#unlock-error"))
        assert not home.exists
        await pilot.press(*PASSPHRASE, "enter", *PASSPHRASE, "enter")
        await until(pilot, lambda: screen(app) == "HomeScreen")
        assert app.signed_in == "amina (supervisor)" and home.exists


async def open_settings(pilot) -> None:
    await pilot.press("f11")
    await until(pilot, lambda: screen(pilot.app) == "SettingsScreen")


def footer_words(app) -> set[str]:
    return {binding.description for _key, binding, *_rest in app.screen.active_bindings.values()}


async def test_switch_to_arabic_and_find_a_patient_by_arabic_name(home):
    from fieldkit import i18n
    from fieldkit.store.keystore import Keystore

    app = FieldkitApp(home)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await sign_in(pilot)
            assert "Search" in footer_words(app)
            await open_settings(pilot)
            await pilot.press("enter", "down", "down", "enter")  # the language list has focus: Arabic is third
            await until(pilot, lambda: screen(app) == "HomeScreen" and "بحث" in footer_words(app))
            assert "Search" not in footer_words(app) and i18n.language() == "ar"
            await pilot.press(*"فاطمه")  # taa marbuta typed as haa, as people do
            await until(pilot, lambda: app.screen.query_one("#results").row_count == 1)
            assert "الحسن" in app.screen.query_one("#results").get_row_at(0)[0]
            assert text(app, "#results-title") == i18n._("Patients found, page {n}").format(n="١")
        assert Keystore(home.keystore).user("amina").language == "ar"
        # the next start greets in the language last used on this laptop
        async with FieldkitApp(home).run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: passphrase_field_ready(pilot.app))
            assert text(pilot.app, "#unlock-title") == "تسجيل الدخول"
    finally:
        i18n.set_language("en")


async def test_session_pin_unlocks_the_lock_screen(home):
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await open_settings(pilot)
        app.screen.query_one("#pin").focus()
        await pilot.press(*"4427", "tab", *"4471", "enter")
        assert "differ" in text(app, "#settings-error") and app.pin is None
        app.screen.query_one("#pin").focus()
        await pilot.press(*"4427", "tab", *"4427", "enter")
        assert app.pin is not None
        await pilot.press("escape", "f12")
        await until(pilot, lambda: screen(app) == "LockScreen")
        await pilot.press(*"1111", "enter")
        await until(pilot, lambda: "tries left" in text(app, "#lock-error"))
        await pilot.press(*"4427", "enter")
        await until(pilot, lambda: screen(app) == "HomeScreen")


async def test_pin_is_forgotten_when_the_app_closes(home):
    async with FieldkitApp(home).run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        pilot.app.pin = Pin("4427")
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        assert app.pin is None
        await pilot.press("f12")
        await until(pilot, lambda: screen(app) == "LockScreen")
        await pilot.press(*"4427", "enter")
        await until(pilot, lambda: "wrong passphrase" in text(app, "#lock-error"))


async def test_site_keymap_remaps_by_binding_id(home):
    (home.path / "keymap.toml").write_text('register = "f6"\n', encoding="utf-8")
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await pilot.press("f4")
        await pilot.pause(0.2)
        assert screen(app) == "HomeScreen"
        await pilot.press("f6")
        await until(pilot, lambda: screen(app) == "RegisterScreen")


async def test_broken_keymap_is_reported_and_defaults_kept(home):
    (home.path / "keymap.toml").write_text('register = [f6\n', encoding="utf-8")
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        assert "keymap.toml ignored" in app.keymap_error
        await pilot.press("f4")
        await until(pilot, lambda: screen(app) == "RegisterScreen")


async def test_rtl_test_card_sets_the_render_mode_for_this_laptop(home):
    from fieldkit.store.keystore import Keystore
    from fieldkit.tui import rtl

    app = FieldkitApp(home)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await sign_in(pilot)
            await open_settings(pilot)
            assert all(line in text(app, "#test-card") for line in rtl.TEST_CARD)  # mode 1 draws them as stored
            app.screen.query_one("#rtl-mode").focus()
            await pilot.press("3", "enter")
            await until(pilot, lambda: screen(app) == "HomeScreen" and rtl.mode() == "words")
            await pilot.press(*"fatima")
            await until(pilot, lambda: app.screen.query_one("#results").row_count == 1)
            row = app.screen.query_one("#results").get_row_at(0)
            assert row[0] == "فاطمة الحسن"  # the table holds her name as stored: only the drawing is reordered
            await pilot.pause(0.3)
            assert "الحسن فاطمة" in app.export_screenshot().replace("&#160;", " ")  # drawn in visual word order
        assert Keystore(home.keystore).get_setting("rtl_mode") == "words"
        async with FieldkitApp(home).run_test(size=(80, 24)) as pilot:
            await sign_in(pilot)
            record = await pilot.app.desk.patient((await pilot.app.desk.search("fatima"))[0].id)
            assert record["given_name"] == "فاطمة"  # stored text stays logical
    finally:
        rtl.set_mode("terminal")


async def test_lock_time_and_theme_are_kept_for_the_laptop(home):
    from fieldkit.store.keystore import Keystore

    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        assert app.idle_lock_seconds == 300
        await open_settings(pilot)
        field = app.screen.query_one("#lock-after")
        field.value = ""
        field.focus()
        await pilot.press(*"500", "enter")
        assert "1 to 120" in text(app, "#settings-error") and app.idle_lock_seconds == 300
        field.value = ""
        await pilot.press(*"١٠", "enter")  # typed in Arabic-Indic digits
        await until(pilot, lambda: app.idle_lock_seconds == 600)
        app.theme = "textual-light"
        await until(pilot, lambda: Keystore(home.keystore).get_setting("theme") == "textual-light")
    again = FieldkitApp(home)
    assert again.idle_lock_seconds == 600 and again.theme == "textual-light"


async def test_an_unforeseen_failure_is_said_in_one_line_and_the_screen_stays(home, monkeypatch):
    from fieldkit.tui.desk import Desk

    async def broken(self, query, page=0):
        raise RuntimeError("disk on fire")
    monkeypatch.setattr(Desk, "search", broken)
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await pilot.press(*"fat")
        await until(pilot, lambda: any("did not finish (RuntimeError)" in str(n.message) for n in app._notifications))
        assert screen(app) == "HomeScreen" and app.is_running
        await pilot.press("backspace", "backspace", "backspace")  # and it goes on working
        await until(pilot, lambda: app.screen.query_one("#results").row_count >= 1)


def footer_keys(app) -> set[str]:
    """The keys the footer offers on the screen now open."""
    return {key for key, active in app.screen.active_bindings.items() if active.binding.show and active.enabled}


def enrol_state(app) -> str:
    found = app.screen.query("#enrol-state") if screen(app) == "EnrolScreen" else None
    return str(found.first().render()) if found else ""


async def test_a_laptop_that_cannot_enrol_offers_no_new_code(tmp_path):
    from sync_support import PASSPHRASE as MEMBER_PASSPHRASE
    from sync_support import network

    founder, other = await asyncio.to_thread(network, tmp_path, 2)
    await asyncio.to_thread(founder.store.close)
    await asyncio.to_thread(other.store.close)

    async def offers_new_code(laptop) -> bool:
        app = FieldkitApp(laptop.home, user=laptop.user.name)
        app.sync_interfaces = ["127.0.0.1"]
        async with app.run_test(size=(80, 24)) as pilot:
            await sign_in(pilot, MEMBER_PASSPHRASE)
            app.action_enrol()
            await until(pilot, lambda: getattr(app.screen, "offer", None) is not None
                        or "cannot enrol others" in enrol_state(app))
            await pilot.pause(0.1)
            assert "escape" in footer_keys(app)
            drawn = "New code" in app.export_screenshot().replace("&#160;", " ")
            assert drawn is ("n" in footer_keys(app))
            return drawn

    assert not await offers_new_code(other)
    assert await offers_new_code(founder)


@pytest.mark.parametrize("language", ["en", "ar", "vi"])
async def test_a_reason_typed_right_after_the_duplicate_warning_is_kept(home, language):
    from fieldkit.store.keystore import Keystore

    await asyncio.to_thread(Keystore(home.keystore).set_language, "amina", language)
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await register_fatima_again(pilot)
        assert app.screen.focused is app.screen.query_one("#duplicates")  # Enter would open the match
        await pilot.press(*"other mother")  # no Tab first: straight after the warning
        assert app.screen.query_one("#reason").value == "other mother"
        await pilot.press("f2")
        await until(pilot, lambda: screen(app) == "ChartScreen" and "فاطمه" in text(app, "#demographics"))


@pytest.mark.parametrize("language", ["en", "ar", "vi"])
async def test_the_demo_shows_its_user_and_passphrase_on_the_sign_in_and_lock_screens(home, language):
    from fieldkit.store.keystore import Keystore

    await asyncio.to_thread(Keystore(home.keystore).set_setting, "language", language)
    app = FieldkitApp(home, user="amina", shown_passphrase=PASSPHRASE)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: passphrase_field_ready(app))
        drawn = app.export_screenshot().replace("&#160;", " ")
        assert "amina" in text(app, "#demo-hint") and PASSPHRASE in drawn  # on screen at 80x24, not below it
        await sign_in(pilot)
        await pilot.press("f12")
        await until(pilot, lambda: screen(app) == "LockScreen")
        await pilot.pause(0.1)
        assert PASSPHRASE in app.export_screenshot().replace("&#160;", " ")
