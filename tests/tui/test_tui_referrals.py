"""Referrals on the clinic screen at 80x24, in the user's language: referred from the chart, found in
the tracker, moved on by events offered only where the transition table allows them, refused in one
line when an event lacks what it needs, received at the hospital's desk, and settled by a supervisor
when two laptops disagree."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
from tui_support import PASSPHRASE, screen, sign_in, text, until

from fieldkit import i18n
from fieldkit.records import referral_services
from fieldkit.records.services import Clinic
from fieldkit.store.db import Store
from fieldkit.store.keystore import Keystore, User
from fieldkit.store.lifecycle import EVENTS, next_status
from fieldkit.store.session import unlock
from fieldkit.tui.app import FieldkitApp
from fieldkit.tui.chart import ChartScreen
from fieldkit.tui.desk import Desk
from fieldkit.tui.home import clip
from fieldkit.tui.referrals import NAME_CELLS

SPECIALIST = User("5bec1a11570000aa", "Dr Karimi", "clinician")


@pytest.fixture(autouse=True)
def back_to_english():
    yield
    i18n.set_language("en")


def speak(home, language: str) -> None:
    Keystore(home.keystore).set_language("amina", language)


def referred(home, *events: str, facility: str = "", **request) -> tuple[str, str]:
    """Fatima referred to Benha University Hospital, then moved by `events`; (patient, referral)."""
    store, user = unlock(home, "amina", PASSPHRASE)
    try:
        if facility:
            store.set_meta({"facility": facility})
        clinic = Clinic(store, user)
        [fatima] = clinic.search("فاطمة")
        clinic.record_encounter({"patient_id": fatima.id, "vitals": {"pulse": 118, "resp_rate": 26, "spo2": 91},
                                 "diagnoses": [{"code": "J18.9", "text": "pneumonia"}]})
        rid = clinic.run(referral_services.refer, {"patient_id": fatima.id, "to_facility": "EG-BNH-UH",
                                                   "urgency": "urgent", "reason": "not improving", **request})
        for kind in events:
            clinic.run(referral_services.record_event, rid, {"type": kind})
        return fatima.id, rid
    finally:
        store.close()


def set_facility(home, code: str) -> None:
    store, _user = unlock(home, "amina", PASSPHRASE)
    try:
        store.set_meta({"facility": code})
    finally:
        store.close()


async def open_tracker(pilot) -> None:
    await sign_in(pilot)
    await pilot.press("f5")
    await until(pilot, lambda: screen(pilot.app) == "TrackerScreen")


async def open_first(pilot, section: str) -> None:
    """Enter on the first row of a tracker list, moving to it with Tab as staff do."""
    app = pilot.app
    await until(pilot, lambda: app.screen.query_one(f"#{section}").row_count >= 1)
    for _ in range(8):
        if getattr(app.screen.focused, "id", None) == section:
            break
        await pilot.press("tab")
    assert app.screen.focused.id == section
    await pilot.press("enter")
    await until(pilot, lambda: screen(app) == "ReferralScreen" and app.screen.referral is not None)


async def choose(pilot, option_list: str, wanted: str) -> None:
    """Pick the option `wanted` (its id) with Down and Enter."""
    options = pilot.app.screen.query_one(f"#{option_list}")
    ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
    await pilot.press(*["down"] * ids.index(wanted), "enter")


def offered_now(app) -> list[str]:
    options = app.screen.query_one("#events")
    return [options.get_option_at_index(i).id for i in range(options.option_count)]


async def record(pilot, event: str) -> None:
    app = pilot.app
    await pilot.press("f5")
    await until(pilot, lambda: screen(app) == "EventChooser")
    await choose(pilot, "events", event)


@pytest.mark.parametrize("language", ["en", "ar", "vi"])
async def test_referred_from_the_chart_and_found_in_the_tracker_to_send(home, language):
    speak(home, language)
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        [fatima] = await app.desk.search("فاطمة")
        await app.push_screen(ChartScreen(fatima.id))
        await until(pilot, lambda: screen(app) == "ChartScreen" and app.screen.record is not None)
        await pilot.press("f9")
        await until(pilot, lambda: screen(app) == "ReferScreen" and app.screen.focused.id == "to_facility")
        assert "penicillin" in text(app, ".title")  # the allergy in view while referring

        await pilot.press("f2")  # no destination: refused in one line, nothing saved
        await until(pilot, lambda: text(app, "#refer-error"))
        assert "\n" not in text(app, "#refer-error").strip()
        assert (await app.desk.patient(fatima.id))["referrals"] == []

        await pilot.press(*"benha", "right")  # the suggestion taken
        assert app.screen.query_one("#to_facility").value == "Benha University Hospital"
        assert "EG-BNH-UH" in text(app, "#to_facility-note")
        app.screen.query_one("#reason").value = "pneumonia not improving"
        app.screen.query_one("#reason_code").value = "J189"
        app.screen.query_one("#urgency").value = "urgent"
        await pilot.press("f2")
        await until(pilot, lambda: text(app, "#refer-error"))  # not an ICD-10 code
        assert (await app.desk.patient(fatima.id))["referrals"] == []
        app.screen.query_one("#reason_code").value = "J18.9"
        await pilot.press("f2")
        await until(pilot, lambda: screen(app) == "ChartScreen" and "Benha University Hospital" in text(app, "#tasks"))

        await pilot.press("escape")
        await until(pilot, lambda: screen(app) == "HomeScreen")
        await pilot.press("f5")
        await until(pilot, lambda: screen(app) == "TrackerScreen" and app.screen.query_one("#to_send").row_count == 1)
        row = app.screen.query_one("#to_send").get_row_at(0)
        assert row[0] == "فاطمة الحسن" and row[1] == i18n._("urgent") and row[2] == i18n._("to send")
        assert row[4] == clip("Benha University Hospital", NAME_CELLS)  # whole in the line under the lists
        assert row[3] == i18n.day(date.today() + timedelta(days=3))
        assert text(app, "#to_send-title").endswith(i18n.number(1))
        for empty in ("awaiting_board", "overdue", "awaiting_arrival", "feedback", "disputed"):
            assert not app.screen.query_one(f"#{empty}").display
        line = text(app, "#referral-line")  # the highlighted referral's number, ends and reason, whole
        assert "Benha University Hospital" in line and "J18.9 pneumonia not improving" in line


@pytest.mark.parametrize("language", ["en", "ar"])
async def test_sent_arrived_and_feedback_bring_the_follow_up_back_to_the_unit(home, language):
    patient, rid = await asyncio.to_thread(referred, home, facility="EG-QAL-RHU1")
    speak(home, language)
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_tracker(pilot)
        await open_first(pilot, "to_send")
        assert text(app, "#referral-allergies") == i18n._("ALLERGIES: {list}").format(list="penicillin")
        assert "J18.9 pneumonia" in text(app, "#referral-snapshot") and "NEWS2" in text(app, "#referral-snapshot")

        await record(pilot, "sent")
        await until(pilot, lambda: app.screen.referral["status"] == "sent" and screen(app) == "ReferralScreen")
        await record(pilot, "arrived")
        await until(pilot, lambda: app.screen.referral["status"] == "arrived")
        await record(pilot, "feedback")
        await until(pilot, lambda: screen(app) == "EventForm")
        await pilot.press("f2")  # nothing said: refused in one line, nothing saved
        await until(pilot, lambda: text(app, ".error"))
        assert text(app, ".error") == i18n._("feedback needs the findings or the recommendations")
        assert [e["type"] for e in (await app.desk.referral(rid))["events"]] == ["sent", "arrived"]
        await pilot.press(*"lobar pneumonia")
        app.screen.query_one("#recommendations").value = "amoxicillin 7 more days"
        app.screen.query_one("#follow_up").value = i18n.digits(f"{date.today() + timedelta(days=7):%d/%m/%Y}")
        await pilot.press("f2")
        await until(pilot, lambda: screen(app) == "ReferralScreen" and app.screen.referral["status"] == "completed")
        events = text(app, "#referral-events")
        assert "lobar pneumonia" in events and "amoxicillin 7 more days" in events
        assert "Qalyubia remote health unit 1" in events  # where each event happened
        assert not app.screen.check_action("record_event", ())  # completed: nothing follows

        await pilot.press("escape")
        await until(pilot, lambda: screen(app) == "TrackerScreen" and app.screen.query_one("#feedback").row_count == 1)
        row = app.screen.query_one("#feedback").get_row_at(0)
        assert row[0] == "فاطمة الحسن" and "amoxicillin 7 more days" in row[2]
        assert row[1] == i18n.day(date.today() + timedelta(days=7))
        assert app.screen.query_one("#to_send").display is False
        [follow_up] = (await app.desk.patient(patient))["followups"]
        assert follow_up["referral_id"] == rid and follow_up["status"] == "open"


@pytest.mark.parametrize("done", [(), ("sent",), ("sent", "arrived"), ("cancelled",)])
async def test_only_the_events_the_table_allows_are_offered(home, done):
    _patient, rid = await asyncio.to_thread(referred, home, *done)
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        from fieldkit.tui.referral_view import ReferralScreen

        await app.push_screen(ReferralScreen(rid))
        await until(pilot, lambda: screen(app) == "ReferralScreen" and app.screen.referral is not None)
        status = app.screen.referral["status"]
        legal = [event for event in EVENTS if next_status(status, event) is not None]
        if not legal:
            assert not app.screen.check_action("record_event", ())
            await pilot.press("f5")
            await pilot.pause(0.3)
            assert screen(app) == "ReferralScreen"
            return
        await pilot.press("f5")
        await until(pilot, lambda: screen(app) == "EventChooser")
        assert offered_now(app) == legal
        assert "feedback" not in offered_now(app) or status in ("sent", "arrived")


async def test_a_board_decision_is_offered_only_while_the_board_has_it(home):
    _patient, _rid = await asyncio.to_thread(referred, home, needs_approval=True)
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_tracker(pilot)
        await open_first(pilot, "awaiting_board")
        await record(pilot, "approved")
        await until(pilot, lambda: screen(app) == "EventForm")
        await pilot.press("f2")
        await until(pilot, lambda: text(app, ".error") == i18n._("a board's decision needs its reference"))
        await pilot.press(*"NCB-2026-0118", "f2")
        await until(pilot, lambda: screen(app) == "ReferralScreen" and app.screen.referral["status"] == "approved")
        assert "NCB-2026-0118" in text(app, "#referral-events")
        await pilot.press("f5")
        await until(pilot, lambda: screen(app) == "EventChooser")
        assert "approved" not in offered_now(app) and "declined" not in offered_now(app)


@pytest.mark.parametrize("language", ["en", "ar"])
async def test_not_attended_is_refused_without_a_reason(home, language):
    _patient, rid = await asyncio.to_thread(referred, home, "sent")
    speak(home, language)
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_tracker(pilot)
        await open_first(pilot, "awaiting_arrival")
        before = await asyncio.to_thread(app.desk.store.version_vector)
        await record(pilot, "not_attended")
        await until(pilot, lambda: screen(app) == "EventForm")
        await pilot.press("f2")
        await until(pilot, lambda: text(app, ".error"))
        assert text(app, ".error") == i18n._("why was it not attended? choose one of the reasons")
        app.screen.query_one("#reason").value = "other"
        await pilot.press("f2")
        await until(pilot, lambda: text(app, ".error") == i18n._("“other” needs a note saying what happened"))
        assert await asyncio.to_thread(app.desk.store.version_vector) == before  # nothing saved
        assert (await app.desk.referral(rid))["status"] == "sent"
        app.screen.query_one("#reason").value = "transport"
        await pilot.press("f2")
        await until(pilot, lambda: screen(app) == "ReferralScreen" and app.screen.referral["status"] == "not_attended")
        assert i18n._("transport") in text(app, "#referral-events")


@pytest.mark.parametrize("language", ["en", "ar"])
async def test_a_referral_to_this_laptops_facility_is_listed_at_its_desk(home, language):
    _patient, rid = await asyncio.to_thread(referred, home, "sent", facility="EG-QAL-RHU1")
    await asyncio.to_thread(set_facility, home, "")  # a laptop whose facility nobody has set yet
    speak(home, language)
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_tracker(pilot)
        await pilot.press("f6")
        await until(pilot, lambda: screen(app) == "ToUsScreen" and "fieldkit referral here" in text(app, "#to_us-title"))
        assert not app.screen.query_one("#to_us").display
        await pilot.press("escape")
        await until(pilot, lambda: screen(app) == "TrackerScreen")
        await asyncio.to_thread(app.desk.store.set_meta, {"facility": "EG-BNH-UH"})  # the hospital's desk
        await pilot.press("f6")
        await until(pilot, lambda: screen(app) == "ToUsScreen" and app.screen.query_one("#to_us").row_count == 1)
        assert "Benha University Hospital" in text(app, "#to_us-title")
        row = app.screen.query_one("#to_us").get_row_at(0)
        assert row[0] == "فاطمة الحسن" and row[4] == clip("Qalyubia remote health unit 1", NAME_CELLS)
        assert row[2] == i18n._("sent") and "Qalyubia remote health unit 1" in text(app, "#referral-line")
        await open_first(pilot, "to_us")
        assert app.screen.referral_id == rid
        await record(pilot, "acknowledged")
        await until(pilot, lambda: screen(app) == "ReferralScreen" and app.screen.referral["status"] == "acknowledged")


@pytest.fixture
def disputed(home, tmp_path):
    """Sent from here; marked arrived at the hospital and cancelled here, neither seeing the other."""
    _patient, rid = referred(home, "sent")
    here, supervisor = unlock(home, "amina", PASSPHRASE)
    hospital = Store(tmp_path / "hospital.db", bytes(range(32)), device_id="e" * 32)
    try:
        hospital.ingest(here.entries_after({}, limit=10**6))
        Clinic(hospital, SPECIALIST).run(referral_services.record_event, rid, {"type": "arrived"})
        Clinic(here, supervisor).run(referral_services.record_event, rid, {"type": "cancelled"})
        here.ingest(hospital.entries_after(here.version_vector(), limit=10**6))
    finally:
        hospital.close()
        here.close()
    return rid


@pytest.mark.parametrize("language", ["en", "ar"])
async def test_a_disputed_referral_is_listed_and_the_supervisor_settles_it(home, disputed, language):
    speak(home, language)
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_tracker(pilot)
        await until(pilot, lambda: app.screen.query_one("#disputed").row_count == 1)
        row = app.screen.query_one("#disputed").get_row_at(0)
        assert row[0] == "فاطمة الحسن" and i18n._("arrived") in row[1] and i18n._("cancelled") in row[1]
        await open_first(pilot, "disputed")
        assert i18n._("[DISPUTED]") in text(app, "#referral-events")
        assert SPECIALIST.id[:8] in text(app, "#referral-conflicts")  # who said it arrived
        await pilot.press("f8")
        await until(pilot, lambda: screen(app) == "SettleForm")
        await choose(pilot, "sides", next(side["event"] for side in app.screen.conflict["candidates"]
                                          if side["value"] == "arrived"))
        await until(pilot, lambda: app.screen.focused.id == "reason")
        await pilot.press("f2")  # no reason: refused, nothing settled
        await until(pilot, lambda: text(app, ".error"))
        assert (await app.desk.referral(disputed))["conflicts"]
        await pilot.press(*"the hospital saw her", "f2")
        await until(pilot, lambda: screen(app) == "ReferralScreen" and not app.screen.referral["conflicts"])
        assert app.screen.referral["status"] == "arrived" and len(app.screen.referral["events"]) == 4
        assert not app.screen.check_action("settle", ())
        await pilot.press("escape")
        await until(pilot, lambda: screen(app) == "TrackerScreen" and app.screen.query_one("#disputed").row_count == 0)


def test_the_events_offered_follow_the_role():
    from fieldkit.tui.referral_event import offered

    assert "approved" not in offered("awaiting_approval", "clinician")
    assert offered("awaiting_approval", "supervisor")[:2] == ["approved", "declined"]
    assert offered("sent", "clerk") == []


@pytest.mark.skipif(not hasattr(Desk, "print_letter"), reason="the letters' Desk method is not there yet")
async def test_the_letter_is_written_where_the_user_says_or_refused_in_one_line(home, tmp_path):
    _patient, complete = await asyncio.to_thread(referred, home, facility="EG-QAL-RHU1", history="cough for 5 days",
                                                 tests_done="chest X-ray", medicines=["amoxicillin 1 g tds"])
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        from fieldkit.tui.referral_view import ReferralScreen

        await app.push_screen(ReferralScreen(complete))
        await until(pilot, lambda: screen(app) == "ReferralScreen" and app.screen.referral is not None)
        await pilot.press("f6")
        await until(pilot, lambda: screen(app) == "LetterForm")
        number = app.screen.referral["number"]
        assert app.screen.query_one("#path").value == f"~/letters/{number}.pdf"  # shown for editing
        target = tmp_path / "out" / "letter.pdf"
        app.screen.query_one("#path").value = str(target)
        await pilot.press("f2")
        await until(pilot, lambda: screen(app) == "ReferralScreen", seconds=30)
        assert target.read_bytes().startswith(b"%PDF")
        await until(pilot, lambda: app.screen.referral["status"] == "issued")  # printing it issued the letter

    # Without the tests done, the letter is refused, naming what it lacks, and nothing is written.
    _patient, lacking = await asyncio.to_thread(referred, home, medicines=["amoxicillin 1 g tds"])
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        from fieldkit.tui.referral_view import ReferralScreen

        await app.push_screen(ReferralScreen(lacking))
        await until(pilot, lambda: screen(app) == "ReferralScreen" and app.screen.referral is not None)
        await pilot.press("f6")
        await until(pilot, lambda: screen(app) == "LetterForm")
        app.screen.query_one("#path").value = str(tmp_path / "refused.pdf")
        await pilot.press("f2")
        await until(pilot, lambda: text(app, ".error"), seconds=30)
        assert i18n._("tests done") in text(app, ".error") and "\n" not in text(app, ".error")
        assert not (tmp_path / "refused.pdf").exists()
