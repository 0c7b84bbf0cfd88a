"""The supervisor's screens driven by keys on a real encrypted clinic: the day summary, merging
duplicates, and users and roles; a clerk gets none of them."""

from __future__ import annotations

import asyncio
import re
from datetime import date, timedelta

import pytest
from tui_support import FATIMA, PASSPHRASE, screen, sign_in, text, until

from fieldkit.i18n import day
from fieldkit.permissions import NotAllowed
from fieldkit.records.models import Patient
from fieldkit.records.services import Clinic, registration
from fieldkit.store.keystore import Keystore
from fieldkit.store.session import add_user, unlock
from fieldkit.tui.app import FieldkitApp
from fieldkit.tui.enrol import EnrolScreen
from fieldkit.tui.merge import MergeScreen
from fieldkit.tui.summary import SummaryScreen, bar_chart
from fieldkit.tui.users import UsersScreen

HOA = "hoa's passphrase"
WELL = {"temperature_c": 37, "pulse": 70, "resp_rate": 16, "systolic_bp": 120, "spo2": 98, "avpu": "A"}
SICK = {"temperature_c": 39.2, "pulse": 118, "resp_rate": 24, "systolic_bp": 98, "spo2": 93}  # NEWS2 10, high


def with_clinic(home, job):
    store, user = unlock(home, "amina", PASSPHRASE)
    try:
        return job(Clinic(store, user))
    finally:
        store.close()


@pytest.fixture
def busy_day(home):
    """Fatima seen three times today (twice well, once sick and referred), one follow-up due today."""
    def record(clinic):
        [fatima] = clinic.search("fatima")
        clinic.record_encounter({"patient_id": fatima.id, "vitals": WELL})
        clinic.record_encounter({"patient_id": fatima.id, "vitals": WELL,
                                 "follow_up": {"due": date.today().isoformat()}})
        clinic.record_encounter({"patient_id": fatima.id, "vitals": SICK,
                                 "referral": {"to_facility": "Idlib Central", "urgency": "urgent"}})
    with_clinic(home, record)
    return home


@pytest.fixture
def flagged_pair(home):
    """Fatima registered a second time, the warning overridden: (first id, second id)."""
    def register(clinic):
        [fatima] = clinic.search("fatima")
        again = clinic.register(FATIMA | {"given_name": "فاطمه"}, reason="says she never came before")
        assert [m.patient.id for m in again.duplicates] == [fatima.id]
        return fatima.id, again.patient_id
    return with_clinic(home, register)


@pytest.fixture
def clerk(home):
    store, _amina = unlock(home, "amina", PASSPHRASE)
    add_user(home, store, by="amina", by_passphrase=PASSPHRASE, name="hoa", role="clerk", passphrase=HOA)
    store.close()
    return "hoa"


async def choose(pilot, select_id: str, steps: int) -> None:
    """Open a Select and move `steps` options down (up if negative) from the one chosen."""
    pilot.app.screen.query_one(f"#{select_id}").focus()
    await pilot.press("enter")
    await until(pilot, lambda: pilot.app.screen.query_one(f"#{select_id}").expanded)
    await pilot.press(*["down" if steps > 0 else "up"] * abs(steps), "enter")
    await until(pilot, lambda: not pilot.app.screen.query_one(f"#{select_id}").expanded)


def test_bars_are_labelled_and_scaled_in_eighths():
    chart = bar_chart([("low", 8), ("high", 1), ("medium", 0)], width=4).splitlines()
    assert chart == ["low    8 ████", "high   1 ▌", "medium 0"]
    assert bar_chart([("low", 200), ("high", 1)], width=4).splitlines()[1] == "high   1 ▏"  # never drawn as none


async def test_day_summary_counts_the_day_and_charts_the_bands(busy_day):
    app = FieldkitApp(busy_day)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await app.push_screen(SummaryScreen())
        await until(pilot, lambda: screen(app) == "SummaryScreen" and "encounters" in text(app, "#summary-counts"))
        counts = text(app, "#summary-counts")
        assert "1 patient seen · 3 encounters" in counts
        assert "1 referral made (1 urgent)" in counts and "1 follow-up due, 1 still open" in counts
        chart = text(app, "#summary-chart").splitlines()
        assert len(chart) == 6
        assert re.fullmatch(r"low +2 █{40}", chart[0]) and re.fullmatch(r"high +1 █{20}", chart[3])
        assert re.fullmatch(r"medium +0", chart[2]) and re.fullmatch(r"under 16 +0", chart[5])
        assert "today" in text(app, "#summary-title") and "busiest" in text(app, "#summary-busiest")
        assert sum(app.screen.query_one("#summary-hours").data) == 3

        await pilot.press("left_square_bracket")
        yesterday = date.today() - timedelta(days=1)
        await until(pilot, lambda: "0 patients seen · 0 encounters" in text(app, "#summary-counts"))
        assert day(yesterday) in text(app, "#summary-title") and "today" not in text(app, "#summary-title")
        assert "1 follow-up overdue" not in text(app, "#summary-counts")
        await pilot.press("right", "right")  # tomorrow: today's open follow-up is overdue by then
        await until(pilot, lambda: "1 follow-up overdue from earlier days" in text(app, "#summary-counts"))
        await pilot.press("escape")
        await until(pilot, lambda: screen(app) == "HomeScreen")


async def test_merging_two_registrations_of_one_person_and_undoing_it(home, flagged_pair):
    first, second = flagged_pair
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await app.push_screen(MergeScreen())
        await until(pilot, lambda: screen(app) == "MergeScreen" and app.screen.query_one("#pairs").row_count == 1)
        assert "1 pair flagged" in text(app, "#pairs-title")
        await pilot.press("tab", "enter")
        await until(pilot, lambda: app.screen.query_one("#sides").row_count == 10)
        sides = app.screen.query_one("#sides")
        assert [str(cell) for cell in sides.get_row_at(0)] == ["فاطمة الحسن", "Name", "فاطمه الحسن"]
        assert "says she never came before" in text(app, "#merge-note")

        await pilot.press("f2")
        await until(pilot, lambda: "choose the record that stays" in text(app, "#merge-error"))
        await pilot.press("1", "f2")
        await until(pilot, lambda: screen(app) == "ConfirmMerge")
        await pilot.press("escape")  # second thoughts: nothing merged
        await until(pilot, lambda: screen(app) == "MergeScreen")
        assert (await app.desk.patient(second)).get("merged_into") is None

        await pilot.press("f2")
        await until(pilot, lambda: screen(app) == "ConfirmMerge")
        await pilot.press("f2")
        await until(pilot, lambda: screen(app) == "MergeScreen" and "Merged" in text(app, "#merge-note")
                    and app.screen.query_one("#pairs").row_count == 0)
        assert (await app.desk.patient(second))["merged_into"] == first
        assert f"merged into {first}" in str(sides.get_row_at(8)[2])
        assert [p.id for p in await app.desk.search("fatima")] == [first]
        await pilot.press("1", "f2")
        await until(pilot, lambda: "merged already" in text(app, "#merge-error"))
        assert screen(app) == "MergeScreen"

        await pilot.press("f3")
        await until(pilot, lambda: "undone" in text(app, "#merge-note")
                    and app.screen.query_one("#pairs").row_count == 1)
        assert (await app.desk.patient(second)).get("merged_into") is None


async def test_pairs_for_a_typed_name_come_from_the_duplicate_matcher(home):
    # Registered again where nobody was warned (an import, say): not flagged, but alike.
    variant = registration(Patient.model_validate(FATIMA | {"given_name": "فاطمه"}))
    await asyncio.to_thread(with_clinic, home, lambda clinic: clinic.store.append([variant], user=clinic.user.id))
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await app.push_screen(MergeScreen())
        await until(pilot, lambda: screen(app) == "MergeScreen" and "0 pairs flagged" in text(app, "#pairs-title"))
        await pilot.press(*"fatima")
        await until(pilot, lambda: app.screen.query_one("#pairs").row_count == 1)
        await pilot.press("enter", "enter")
        await until(pilot, lambda: "same phone" in text(app, "#merge-note"))


async def test_adding_a_user_who_can_then_unlock(home):
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await app.push_screen(UsersScreen())
        await until(pilot, lambda: screen(app) == "UsersScreen" and app.screen.query_one("#user-list").row_count == 1)
        app.screen.query_one("#name").focus()
        await pilot.press(*"hoa")
        await choose(pilot, "role", 1)  # clinician -> clerk
        await choose(pilot, "language", 4)  # English -> Tiếng Việt
        await pilot.press("tab", *HOA, "tab", *"not the same", "tab", *PASSPHRASE, "f2")
        await until(pilot, lambda: "differ" in text(app, "#users-error"))
        await pilot.press("shift+tab", "shift+tab", *HOA, "tab", *HOA, "tab", *"not mine at all", "f2")
        await until(pilot, lambda: "wrong passphrase for amina" in text(app, "#users-error"))
        assert app.screen.query_one("#user-list").row_count == 1
        assert [u.name for u in await asyncio.to_thread(Keystore(home.keystore).users)] == ["amina"]

        await pilot.press("shift+tab", "shift+tab", *HOA, "tab", *HOA, "tab", *PASSPHRASE, "f2")
        await until(pilot, lambda: app.screen.query_one("#user-list").row_count == 2)
        assert "clerk" in str(app.screen.query_one("#user-list").get_row_at(1))
        assert app.screen.query_one("#passphrase").value == "" and app.screen.query_one("#own-passphrase").value == ""
    user, key = await asyncio.to_thread(Keystore(home.keystore).unlock, "hoa", HOA)
    assert (user.role, user.language) == ("clerk", "vi") and len(key) == 32


async def test_changing_a_role_and_keeping_the_last_supervisor(home, clerk):
    app = FieldkitApp(home, user="amina")
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await app.push_screen(UsersScreen())
        await until(pilot, lambda: screen(app) == "UsersScreen" and app.screen.query_one("#user-list").row_count == 2)
        await until(pilot, lambda: app.screen.query_one("#new-role").value == "supervisor")  # amina, first
        await choose(pilot, "new-role", -1)  # supervisor -> clerk
        await pilot.press("f3")
        await until(pilot, lambda: "last supervisor" in text(app, "#users-error"))
        assert (await asyncio.to_thread(Keystore(home.keystore).user, "amina")).role == "supervisor"

        app.screen.query_one("#user-list").focus()
        await pilot.press("down")
        await until(pilot, lambda: app.screen.query_one("#new-role").value == "clerk")  # hoa
        await choose(pilot, "new-role", 1)  # clerk -> supervisor
        await pilot.press("f3")
        await until(pilot, lambda: "supervisor" in str(app.screen.query_one("#user-list").get_row_at(1)))
        assert (await asyncio.to_thread(Keystore(home.keystore).user, "hoa")).role == "supervisor"
        journalled = await asyncio.to_thread(app.desk.store.read, lambda conn: conn.execute(
            "SELECT role FROM users WHERE name = 'hoa'").fetchone()[0])
        assert journalled == "supervisor"


async def test_a_clerk_gets_none_of_the_supervisor_screens(home, clerk, flagged_pair):
    first, second = flagged_pair
    app = FieldkitApp(home, user="hoa")
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, passphrase=HOA)
        shown = {binding.key for _key, binding, *_rest in app.screen.active_bindings.values()}
        assert "f4" in shown and not shown & {"f6", "f7", "f8", "f10"}, "supervisor keys left in a clerk's footer"
        await pilot.press("f6")
        await pilot.pause(0.2)
        assert screen(app) == "HomeScreen"
        for opened in (SummaryScreen, MergeScreen, UsersScreen, EnrolScreen):
            await app.push_screen(opened())
            await pilot.pause(0.2)
            await until(pilot, lambda: screen(app) == "HomeScreen")
        desk = app.desk
        for refused in (desk.day_summary(date.today()), desk.duplicate_pairs(), desk.merge(second, first),
                        desk.users(), desk.change_role("amina", "clerk"),
                        desk.add_user("mai", "supervisor", "en", "mai's passphrase", HOA)):
            with pytest.raises(NotAllowed):
                await refused
