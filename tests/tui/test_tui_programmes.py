"""Programme work at 80x24 as a home-care team meets it: enrolling from the chart (a second active
enrolment refused in one line, nothing saved), the worklist's order, a check-in in at most 15 keys
in the user's own digits, an impossible reading refused, a red check-in escalated to a linked
urgent transfer, the supervisor's missed-twice list, a line list whose groups add up, and closing
that needs an outcome."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
from textual import events
from textual.keys import _character_to_key
from tui_support import PASSPHRASE, drawn_rows, screen, sign_in, text, until

from fieldkit import i18n
from fieldkit.i18n import _
from fieldkit.records import enrolments
from fieldkit.records.services import Clinic
from fieldkit.store.keystore import Keystore
from fieldkit.store.session import unlock
from fieldkit.tui.app import FieldkitApp

TODAY = date.today()
GREEN = {"spo2": 97, "resp_rate": 16, "pulse": 80, "temperature_c": 36.8}
# SpO2 97, RR 18, pulse 82, temperature 36.8 and F2: the check-in the form is laid out for.
TYPICAL = ("9", "7", "tab", "1", "8", "tab", "8", "2", "tab", "3", "6", ".", "8", "f2")
# The same on an Arabic layout: Arabic-Indic digits and the Arabic decimal separator.
TYPICAL_AR = ("٩", "٧", "tab", "١", "٨", "tab", "٨", "٢", "tab", "٣", "٦", "٫", "٨", "f2")


@pytest.fixture
def speaking(home):
    def speak(language: str):
        Keystore(home.keystore).set_language("amina", language)
        return home
    yield speak
    i18n.set_language("en")


def seed(home, build):
    """Run `build(clinic)` on the clinic's store before the screen opens; returns what it returns."""
    store, user = unlock(home, "amina", PASSPHRASE)
    try:
        return build(Clinic(store, user))
    finally:
        store.close()


def patient(clinic: Clinic, name: str, phone: str = "") -> str:
    return clinic.register({"given_name": name, "birth_date": "1960-01-01", "sex": "female",
                            **({"phone": phone} if phone else {})}).patient_id


def enrol(clinic: Clinic, patient_id: str, programme: str = "home-triage", since: date = TODAY, **attributes) -> str:
    return clinic.run(enrolments.enrol, {"patient_id": patient_id, "programme": programme,
                                         "enrolled_on": since.isoformat(), "attributes": attributes})


def check_in(clinic: Clinic, enrolment_id: str, on: date = TODAY, **readings) -> str:
    return clinic.run(enrolments.check_in, {"enrolment_id": enrolment_id, "day": on.isoformat(), **(readings or GREEN)})[0]


def fatima_id(clinic: Clinic) -> str:
    return clinic.search("فاطمة")[0].id


async def open_fatima(pilot) -> None:
    app = pilot.app
    await pilot.press(*"fatima")
    await until(pilot, lambda: app.screen.query_one("#results").row_count == 1)
    await pilot.press("enter")
    await until(pilot, lambda: screen(app) == "ChartScreen" and app.screen.record is not None)


async def open_worklist(pilot, view_key: str = "") -> None:
    app = pilot.app
    await pilot.press("f2")
    await until(pilot, lambda: screen(app) == "WorklistScreen" and app.screen.loaded)
    if view_key:
        await pilot.press(view_key)
        await pilot.pause(0.1)


def stored_enrolments(app) -> list[tuple[str, str, str]]:
    return app.desk.store.aread(lambda conn: conn.execute(
        "SELECT programme, status, coalesce(outcome, '') FROM enrolments ORDER BY enrolled_on").fetchall())


async def press(pilot, *keys: str) -> None:
    """Keys as a terminal sends them. Textual's Pilot cannot name a few characters an Arabic
    layout types (the Arabic decimal separator): those are sent as the terminal would, one key
    event carrying the character."""
    for key in keys:
        if len(key) == 1 and not key.isascii() and not key.isalnum():
            pilot.app._driver.send_message(events.Key(_character_to_key(key), key))
            await pilot.pause()
        else:
            await pilot.press(key)


async def journal_length(app) -> int:
    return (await app.desk.store.aread(lambda conn: conn.execute("SELECT count(*) FROM journal").fetchone()))[0]


def drawn(app) -> str:
    """The screen's text as one line, its rows joined: a message wrapped at 80 columns reads whole."""
    return " ".join(" ".join(row.split()) for row in drawn_rows(app))


def one_line(app, selector: str) -> str:
    """The widget's text, which must be a single line that is drawn inside the screen."""
    widget = app.screen.query_one(selector)
    said = text(app, selector)
    assert said.strip() and "\n" not in said.strip(), said
    assert widget.region.height >= 1 and widget.region.bottom <= app.screen.size.height, "drawn off the screen"
    return said


@pytest.mark.parametrize("language", ["en", "ar", "vi"])
async def test_enrol_from_the_chart_and_a_second_active_enrolment_is_refused_in_one_line(speaking, language):
    app = FieldkitApp(speaking(language))
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await open_fatima(pilot)
        await until(pilot, lambda: _("Not in any programme (F8 enrols)") in text(app, "#enrolments"))
        for attempt in range(2):
            await pilot.press("f8")
            await until(pilot, lambda: screen(app) == "EnrolForm" and app.screen.programmes)
            await pilot.press("enter", "down", "enter")  # the chooser: the first programme, home triage
            await until(pilot, lambda: app.screen.query_one("#programme").value == "home-triage")
            before = await journal_length(app)
            await pilot.press("f2")
            if attempt == 0:
                await until(pilot, lambda: screen(app) == "ChartScreen")
                await until(pilot, lambda: _("Home triage") in text(app, "#enrolments"))
                assert _("active") in text(app, "#enrolments")
        refused = _("already enrolled in {programme} since {day}: close that enrolment first").format(
            programme=_("Home triage"), day=i18n.day(TODAY))
        await until(pilot, lambda: text(app, "#enrol-error").strip() != "")
        assert one_line(app, "#enrol-error").strip() == refused
        assert refused in drawn(app), "the refusal is cut at 80 columns"
        assert screen(app) == "EnrolForm" and await journal_length(app) == before, "something was saved"
        assert await stored_enrolments(app) == [("home-triage", "active", "")]


async def test_the_worklist_puts_a_red_check_in_above_an_overdue_green_one(home):
    def build(clinic):
        started = TODAY - timedelta(days=3)
        green = enrol(clinic, patient(clinic, "Anh Green", "+84901000001"), since=started)
        check_in(clinic, green, started)  # then nothing for two days: missed, missed, and today due
        red = enrol(clinic, patient(clinic, "Tuan Red", "+84901000002"), since=started)
        for offset in range(3):
            check_in(clinic, red, started + timedelta(days=offset), **(GREEN | {"spo2": 88} if offset == 2 else GREEN))
    await asyncio.to_thread(seed, home, build)
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await open_worklist(pilot)
        assert [f.patient_name for f in app.screen.lists["due"]] == ["Tuan Red", "Anh Green"]
        rows = drawn_rows(app)
        [red] = [n for n, row in enumerate(rows) if "Tuan Red" in row]
        [green] = [n for n, row in enumerate(rows) if "Anh Green" in row]
        assert red < green and "red" in rows[red] and "+84901000002" in rows[red], rows
        assert "4/14" in rows[red] and "4/14" in rows[green]  # day four of the fourteen-day plan
        await pilot.press("2")  # escalations: the red one waits for a doctor
        await until(pilot, lambda: app.screen.view == "escalations")
        assert [e["patient_name"] for e in app.screen.lists["escalations"]] == ["Tuan Red"]
        assert "SpO2 88 %" in "\n".join(drawn_rows(app))


@pytest.mark.parametrize("language", ["en", "ar", "vi"])
async def test_a_typical_check_in_is_saved_in_fourteen_keys(speaking, language):
    home = speaking(language)
    enrolment = await asyncio.to_thread(seed, home, lambda clinic: enrol(clinic, fatima_id(clinic)))
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await open_worklist(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: screen(app) == "CheckinScreen" and app.screen.ruleset is not None)
        keys = TYPICAL_AR if language == "ar" else TYPICAL
        assert len(keys) <= 15
        await press(pilot, *keys)
        await until(pilot, lambda: screen(app) == "CheckinSaved")
        assert _("none") in "\n".join(drawn_rows(app))
        [saved] = await app.desk.checkins_of(enrolment)
        await pilot.press("escape")
        await until(pilot, lambda: screen(app) == "WorklistScreen" and not app.screen.lists["due"])
    assert (saved["spo2"], saved["resp_rate"], saved["pulse"], saved["temperature_c"]) == (97, 18, 82, 36.8)
    assert saved["day"] == TODAY.isoformat() and saved["alert_level"] == "none" and saved["symptoms"] == []


@pytest.mark.parametrize("language", ["en", "ar", "vi"])
async def test_an_impossible_spo2_is_refused_in_one_line_and_nothing_is_saved(speaking, language):
    home = speaking(language)
    enrolment = await asyncio.to_thread(seed, home, lambda clinic: enrol(clinic, fatima_id(clinic)))
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await open_worklist(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: screen(app) == "CheckinScreen")
        await pilot.press(*("١٢٠" if language == "ar" else "120"), "tab", *"18", "f2")
        await until(pilot, lambda: text(app, "#checkin-error").strip() != "")
        line = one_line(app, "#checkin-error")
        assert _("SpO2") in line and "40–100" in line and "spo2" not in line
        assert line.strip() in drawn(app), "the refusal is cut at 80 columns"
        assert screen(app) == "CheckinScreen" and app.screen.focused is app.screen.query_one("#spo2")
        assert await app.desk.checkins_of(enrolment) == []


async def test_a_red_check_in_waits_in_escalations_and_a_transfer_links_an_urgent_referral(home):
    enrolment = await asyncio.to_thread(seed, home, lambda clinic: enrol(clinic, fatima_id(clinic)))
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await open_worklist(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: screen(app) == "CheckinScreen")
        await pilot.press(*"86", "tab", *"24", "tab", "tab", "tab")
        await pilot.press("1")  # the first symptom, by its digit: breathless at rest
        assert app.screen.query_one("#symptoms").selected == ["breathless_rest"]
        await pilot.press("f2")
        await until(pilot, lambda: screen(app) == "CheckinSaved")
        shown = "\n".join(drawn_rows(app))
        assert "red" in shown and "SpO2 86 %" in shown and "Breathless at rest is red" in shown
        await pilot.press("2")  # later: not blocked, it waits in the list
        await until(pilot, lambda: screen(app) == "WorklistScreen")
        await pilot.press("2")
        await until(pilot, lambda: len(app.screen.lists["escalations"]) == 1)
        [escalation] = app.screen.lists["escalations"]
        await pilot.press("enter")
        await until(pilot, lambda: screen(app) == "EscalationScreen")
        await pilot.press("1", *"Soc Trang Gen", "right")  # the suggestion completes the listed name
        await until(pilot, lambda: app.screen.query_one("#to_facility").value == "Soc Trang General Hospital")
        await pilot.press("enter", *"SpO2 86 at rest", "f2")
        await until(pilot, lambda: screen(app) == "WorklistScreen" and app.screen.lists["escalations"] == [])
        referral = await app.desk.store.aread(lambda conn: conn.execute(
            "SELECT kind, urgency, to_facility, enrolment_id, reason FROM referrals WHERE escalated_from = ?",
            (escalation["id"],)).fetchone())
        status = (await app.desk.enrolment(enrolment))["status"]
    assert tuple(referral) == ("transfer", "urgent", "VN-ST-GH", enrolment, "SpO2 86 at rest")
    assert status == "paused"


async def test_escalate_now_from_the_saved_red_check_in(home):
    await asyncio.to_thread(seed, home, lambda clinic: enrol(clinic, fatima_id(clinic)))
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await open_worklist(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: screen(app) == "CheckinScreen")
        await pilot.press(*"95", "tab", *"32", "f2")
        await until(pilot, lambda: screen(app) == "CheckinSaved")
        await pilot.press("1")
        await until(pilot, lambda: screen(app) == "EscalationScreen")
        await pilot.press("2", *"rechecked: 22/min, talking in sentences", "enter")
        await until(pilot, lambda: screen(app) == "WorklistScreen")
        assert await app.desk.escalations() == []
        reviews = await app.desk.store.aread(lambda conn: conn.execute("SELECT count(*) FROM checkin_reviews").fetchone())
    assert reviews[0] == 1


async def test_missed_twice_is_listed_for_the_supervisor(home):
    def build(clinic):
        started = TODAY - timedelta(days=3)
        missing = enrol(clinic, patient(clinic, "Lan Missing", "+84901000003"), since=started)
        check_in(clinic, missing, started)
        steady = enrol(clinic, patient(clinic, "Binh Steady"), since=started)
        for offset in range(3):
            check_in(clinic, steady, started + timedelta(days=offset))
    await asyncio.to_thread(seed, home, build)
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await open_worklist(pilot, "3")
        assert app.screen.view == "missed"
        rows = [row for row in drawn_rows(app) if "Lan Missing" in row]
        assert len(rows) == 1 and "+84901000003" in rows[0] and " 2 " in rows[0], rows
        assert not any("Binh Steady" in row for row in drawn_rows(app))
        await pilot.press("enter")  # the enrolment, to call or close
        await until(pilot, lambda: screen(app) == "EnrolmentScreen" and app.screen.enrolment is not None)
        assert "Lan Missing" in text(app, "#enrolment-head")


@pytest.mark.parametrize("language", ["en", "vi"])
async def test_a_line_list_grouped_by_destination_adds_up_and_exports_where_told(speaking, language, tmp_path):
    home = speaking(language)

    def build(clinic):
        for name, country in (("Salem", "Tunisia"), ("Hend", "Tunisia"), ("Ali", "Egypt"), ("Mona", "Turkey")):
            enrol(clinic, patient(clinic, name), "oncology-abroad", destination_country=country, cancer_site="breast",
                  branch_office="Tripoli")
    await asyncio.to_thread(seed, home, build)
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await open_worklist(pilot, "5")
        await until(pilot, lambda: screen(app) == "ProgrammesScreen" and app.screen.shown)
        await pilot.press("down", "enter")  # the second programme: oncology treatment abroad
        await until(pilot, lambda: screen(app) == "LineListScreen" and len(app.screen.rows) == 4)
        app.screen.query_one("#group-by").value = "destination_country"
        groups = {_("Tunisia"): 2, _("Egypt"): 1, _("Turkey"): 1}
        await until(pilot, lambda: _("Tunisia") in text(app, "#line-counts"))
        counted = text(app, "#line-counts")
        assert all(f"{group} {n}" in counted for group, n in groups.items()), counted
        assert counted.endswith("= " + _("{n} {unit}").format(n=4, unit=_("enrolments")))
        assert sum(groups.values()) == 4
        app.screen.query_one("#unit").value = "patients"
        await until(pilot, lambda: text(app, "#line-counts").endswith(_("{n} {unit}").format(n=4, unit=_("patients"))))
        folder = tmp_path / "usb"
        folder.mkdir()
        target = folder / "oncology.csv"
        for attempt in range(2):
            await pilot.press("f5")
            await until(pilot, lambda: screen(app) == "Ask")
            app.screen.query_one("#answer").value = str(target)  # a path as pasted: typing it adds seconds, not proof
            await pilot.press("f2")
            if attempt == 0:
                await until(pilot, lambda: screen(app) == "LineListScreen")
        await until(pilot, lambda: text(app, "#ask-error").strip() != "")
        assert str(target) in one_line(app, "#ask-error")  # never overwritten
    written = target.read_bytes().decode("utf-8")
    assert written.startswith("\ufeff") and written.count("\r\n") == 5 and "destination_country" in written
    assert list(folder.iterdir()) == [target]


async def test_closing_an_enrolment_needs_an_outcome(home):
    enrolment = await asyncio.to_thread(seed, home, lambda clinic: enrol(clinic, fatima_id(clinic)))
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await open_fatima(pilot)
        await until(pilot, lambda: app.screen.query_one("#enrolments").items)
        app.screen.query_one("#enrolments").focus()
        await pilot.press("enter")
        await until(pilot, lambda: screen(app) == "EnrolmentScreen" and app.screen.enrolment is not None)
        await pilot.press("3")  # check in, pause, complete, cancel
        await until(pilot, lambda: screen(app) == "CloseForm")
        await pilot.press("f2")
        await until(pilot, lambda: text(app, "#close-error").strip() != "")
        assert one_line(app, "#close-error").strip() == "closing an enrolment needs an outcome"
        assert (await app.desk.enrolment(enrolment))["status"] == "active"
        await pilot.press("enter", "down", "down", "enter")  # the second outcome: escalated to hospital
        await until(pilot, lambda: app.screen.query_one("#outcome").value == "escalated")
        await pilot.press("f2")
        await until(pilot, lambda: screen(app) == "EnrolmentScreen" and app.screen.enrolment["status"] == "completed")
        assert "Escalated to hospital" in text(app, "#enrolment-head")
        closed = await app.desk.enrolment(enrolment)
    assert (closed["status"], closed["outcome"], closed["outcome_date"]) == ("completed", "escalated", TODAY.isoformat())


async def test_pause_while_in_hospital_and_resume(home):
    enrolment = await asyncio.to_thread(seed, home, lambda clinic: enrol(clinic, fatima_id(clinic)))
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await open_fatima(pilot)
        await until(pilot, lambda: app.screen.query_one("#enrolments").items)
        app.screen.query_one("#enrolments").focus()
        await pilot.press("enter")
        await until(pilot, lambda: screen(app) == "EnrolmentScreen" and app.screen.enrolment is not None)
        await pilot.press("2")
        await until(pilot, lambda: app.screen.enrolment["status"] == "paused")
        assert _("Resume: back home") in str(app.screen.query_one("#enrolment-actions").get_option_at_index(0).prompt)
        await pilot.press("1")
        await until(pilot, lambda: app.screen.enrolment["status"] == "active")
        stays = (await app.desk.enrolment(enrolment))["stays"]
    assert stays == [[TODAY.isoformat(), TODAY.isoformat()]]
