"""The encounter screen at 80x24 as a clinician meets it: a refused reading keeps its value, reason
and range in view, a save that cannot go says why beside the field, a high NEWS2 asks for the
escalation, dates are read as typed, and the whole encounter (kind, glucose, height, several
diagnoses and prescriptions, the referral's urgency) is reachable from the keyboard."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from tui_support import drawn_rows, open_encounter_for_fatima, screen, sign_in, text, until

from fieldkit import i18n
from fieldkit.store.keystore import Keystore
from fieldkit.tui.app import FieldkitApp

# Fatima at NEWS2 10: temperature, pulse, RR, SBP, DBP, SpO2 (as test_tui types them)
HIGH_NEWS2 = ("39.2", "118", "24", "98", "60", "93")
SAY = {
    "en": {"temperature": "Temperature", "range": "(allowed 25–45 °C)", "not_date": "is not a date",
           "future": "in the future", "past": "in the past"},
    "ar": {"temperature": "الحرارة", "range": "(المسموح 25–45 °C)", "not_date": "ليس تاريخًا",
           "future": "في المستقبل", "past": "في الماضي"},
    "vi": {"temperature": "Nhiệt độ", "range": "(cho phép 25–45 °C)", "not_date": "không phải là ngày",
           "future": "ở tương lai", "past": "đã qua"},
}


@pytest.fixture
def speaking(home):
    def speak(language: str):
        Keystore(home.keystore).set_language("amina", language)
        return home
    yield speak
    i18n.set_language("en")


def on_screen(app, selector: str) -> bool:
    """The widget is drawn inside the 80x24 screen, not scrolled or pushed out of it."""
    widget = app.screen.query_one(selector)
    region, size = widget.region, app.screen.size
    return region.height >= 1 and region.y >= 0 and region.bottom <= size.height and region.right <= size.width


@pytest.mark.parametrize("language", ["en", "ar", "vi"])
async def test_a_refused_reading_keeps_value_reason_and_range_in_view(speaking, language):
    app = FieldkitApp(speaking(language))
    said = SAY[language]
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await open_encounter_for_fatima(pilot)
        await pilot.press(*"52", "tab")
        await until(pilot, lambda: "25–45" in text(app, "#temperature_c-note"))
        field = app.screen.query_one("#temperature_c")
        assert field.content_region.height == 1 and on_screen(app, "#temperature_c"), "the typed value is hidden"
        shown = "\n".join(drawn_rows(app))
        assert "52.0 °C" in shown and said["range"] in shown, "the refusal is cut"
        [row] = [row for row in shown.splitlines() if "52.0 °C" in row]
        assert "52" in row.replace("52.0", ""), "the typed 52 itself is not drawn"

        await pilot.press("f2")
        await until(pilot, lambda: said["temperature"] in text(app, "#encounter-error"))
        error = text(app, "#encounter-error")
        assert "temperature_c" not in error and "vitals" not in error and "25–45" in error
        assert on_screen(app, "#encounter-error"), "the reason F2 did nothing is off-screen"
        assert app.screen.focused is field and on_screen(app, "#temperature_c")
        assert screen(app) == "EncounterScreen"


async def test_a_refused_field_further_down_is_scrolled_to(home):
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await open_encounter_for_fatima(pilot)
        app.screen.query_one("#dx-0-code").focus()
        await pilot.press(*"zz9", "tab", *"fever")
        app.screen.query_one("#temperature_c").focus()
        await pilot.pause(0.2)
        await pilot.press("f2")
        await until(pilot, lambda: "ICD-10" in text(app, "#encounter-error"))
        assert "Diagnosis 1" in text(app, "#encounter-error") and "diagnoses" not in text(app, "#encounter-error")
        assert app.screen.focused is app.screen.query_one("#dx-0-code")
        await pilot.pause(0.3)
        assert on_screen(app, "#dx-0-code") and on_screen(app, "#encounter-error")


async def type_high_news2(pilot) -> None:
    for reading in HIGH_NEWS2:
        await pilot.press(*reading, "tab")
    await until(pilot, lambda: "NEWS2 10 high" in text(pilot.app, "#scores"))


@pytest.mark.parametrize("language", ["en", "ar", "vi"])
async def test_high_news2_asks_for_escalation_and_a_note_saves_it(speaking, language):
    app = FieldkitApp(speaking(language))
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await open_encounter_for_fatima(pilot)
        patient_id = app.screen.patient_id
        for reading in HIGH_NEWS2:
            await pilot.press(*reading, "tab")
        await pilot.pause(0.3)
        await pilot.press("f2")
        await until(pilot, lambda: screen(app) == "EscalateScreen")
        assert on_screen(app, "#escalate-choice")
        await pilot.press("escape")  # back to the form: nothing saved
        await until(pilot, lambda: screen(app) == "EncounterScreen")
        await pilot.press("f2")
        await until(pilot, lambda: screen(app) == "EscalateScreen")
        await pilot.press("٢" if language == "ar" else "2")  # digits of the user's own layout choose too
        await until(pilot, lambda: app.screen.query_one("#escalate-reason").has_focus)
        await pilot.press("enter")
        await until(pilot, lambda: text(app, "#escalate-error") != "")
        assert screen(app) == "EscalateScreen"
        await pilot.press(*"doctor at bedside", "enter")
        await until(pilot, lambda: screen(app) == "ChartScreen")
        record = await app.desk.patient(patient_id)
    [encounter] = record["encounters"]
    assert encounter["scores"]["news2"]["total"] == 10 and "doctor at bedside" in encounter["notes"]
    assert record["referrals"] == []


async def test_high_news2_escalated_as_an_emergency_referral(home):
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await open_encounter_for_fatima(pilot)
        patient_id = app.screen.patient_id
        await type_high_news2(pilot)
        await pilot.press("f2")
        await until(pilot, lambda: screen(app) == "EscalateScreen")
        await pilot.press("1")
        await until(pilot, lambda: screen(app) == "EncounterScreen" and app.screen.focused is not None
                    and app.screen.focused.id == "refer_to")
        assert app.screen.query_one("#urgency").value == "emergency" and on_screen(app, "#refer_to")
        await pilot.press(*"District hospital", "f2")
        await until(pilot, lambda: screen(app) == "ChartScreen")
        record = await app.desk.patient(patient_id)
    [referral] = record["referrals"]
    assert (referral["to_facility"], referral["urgency"]) == ("District hospital", "emergency")


async def test_an_urgent_referral_already_typed_saves_without_asking(home):
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await open_encounter_for_fatima(pilot)
        await type_high_news2(pilot)
        app.screen.query_one("#refer_to").value = "District hospital"
        app.screen.query_one("#urgency").value = "urgent"
        await pilot.press("f2")
        await until(pilot, lambda: screen(app) == "ChartScreen")


@pytest.mark.parametrize("language", ["en", "ar", "vi"])
async def test_follow_up_dates_as_people_type_them(speaking, language):
    app = FieldkitApp(speaking(language))
    said = SAY[language]
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await open_encounter_for_fatima(pilot)
        patient_id = app.screen.patient_id
        follow_up = app.screen.query_one("#follow_up")
        follow_up.focus()
        await pilot.press(*"next week", "tab")
        await until(pilot, lambda: said["not_date"] in text(app, "#follow_up-note"))
        assert i18n.digits("31/12/1990") in text(app, "#follow_up-note"), "the expected form is not said"
        past = date.today() - timedelta(days=3)
        follow_up.value = ""
        follow_up.focus()
        await pilot.press(*i18n.digits(past.strftime("%d/%m/%Y")), "tab")
        await until(pilot, lambda: said["past"] in text(app, "#follow_up-note"))
        soon = date.today() + timedelta(days=14)
        follow_up.value = ""
        follow_up.focus()
        await pilot.press(*soon.strftime("%d.%m.%Y"), "tab")
        await until(pilot, lambda: said["past"] not in text(app, "#follow_up-note")
                    and text(app, "#follow_up-note").strip() != "")
        await pilot.press("f2")
        await until(pilot, lambda: screen(app) == "ChartScreen")
        record = await app.desk.patient(patient_id)
    assert [f["due"] for f in record["followups"]] == [soon.isoformat()]


async def test_a_past_follow_up_is_saved_when_meant(home):
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await open_encounter_for_fatima(pilot)
        patient_id = app.screen.patient_id
        app.screen.query_one("#follow_up").value = "01/02/2020"
        await pilot.press("f2")
        await until(pilot, lambda: screen(app) == "ChartScreen")
        record = await app.desk.patient(patient_id)
    assert [f["due"] for f in record["followups"]] == ["2020-02-01"]


@pytest.mark.parametrize("language", ["en", "ar", "vi"])
async def test_birth_dates_as_people_type_them(speaking, language):
    app = FieldkitApp(speaking(language))
    said = SAY[language]
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await pilot.press("f4")
        await until(pilot, lambda: screen(app) == "RegisterScreen")
        await pilot.press(*"Lan", "tab", "tab", *"Trần", "tab", *"31/13/1990", "f2")
        await until(pilot, lambda: said["not_date"] in text(app, "#register-error")
                    or "31/13/1990" in text(app, "#register-error"))
        error = text(app, "#register-error")
        assert "Input should" not in error and "birth_date" not in error and "\n" not in error.strip()
        assert on_screen(app, "#register-error")
        birth = app.screen.query_one("#birth_date")
        birth.value = i18n.digits("01/01/2999")
        await pilot.press("f2")
        await until(pilot, lambda: said["future"] in text(app, "#register-error"))
        birth.value = "٣١/١٢/١٩٩٠" if language == "ar" else "31/12/1990"
        await pilot.press("f2")
        await until(pilot, lambda: screen(app) == "ChartScreen")
        record = await app.desk.patient(app.screen.patient_id)
    assert record["birth_date"] == "1990-12-31"


async def test_the_whole_encounter_by_keyboard(home):
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await open_encounter_for_fatima(pilot)
        patient_id = app.screen.patient_id
        await pilot.press("shift+tab")  # the kind sits above the first reading
        assert app.screen.focused.id == "kind"
        await pilot.press("enter", "down", "enter")  # home visit
        await until(pilot, lambda: app.screen.query_one("#kind").value == "home")
        await pilot.press("tab")
        for reading in ("37.2", "80", "16", "120", "80", "98"):
            await pilot.press(*reading, "tab")
        await pilot.press("a", "tab", "tab", "tab")  # consciousness, then past both oxygen ticks
        for reading in ("61.5", "158", "240"):  # weight, height, MUAC
            await pilot.press(*reading, "tab")
        await pilot.press(*"7.8", "tab")  # glucose, then its unit
        assert app.screen.focused.id == "glucose_unit"
        await pilot.press("enter", "down", "enter")  # mmol/L
        await until(pilot, lambda: app.screen.query_one("#glucose_unit").value == "mmol/L")
        await pilot.press("tab", *"J18.9", "tab", *"pneumonia", "tab", *"E11", "tab", *"type 2 diabetes", "tab")
        assert app.screen.focused.id == "dx-2-code", "a new diagnosis row follows the last one typed"
        await pilot.press("tab", "tab", *"amoxicillin", "tab", *"500 mg", "tab", *"oral", "tab", *"3/day", "tab",
                          *"5", "tab", *"paracetamol", "tab")
        assert app.screen.focused.id == "rx-1-dose"
        await pilot.press("tab", "tab", "tab", "tab", "tab", "tab", "tab", "tab", "tab")  # past the empty row
        assert app.screen.focused.id == "refer_to" and on_screen(app, "#refer_to")
        await pilot.press(*"Soc Trang hospital", "tab", *"chest X-ray", "tab", "enter", "down", "enter")
        await until(pilot, lambda: app.screen.query_one("#urgency").value == "urgent")
        await pilot.press("tab", "tab", *"home visit, family present")
        assert app.screen.focused.id == "notes"
        await pilot.press("f2")
        await until(pilot, lambda: screen(app) == "ChartScreen")
        record = await app.desk.patient(patient_id)
    [encounter] = record["encounters"]
    assert encounter["kind"] == "home" and encounter["notes"] == "home visit, family present"
    assert encounter["vitals"]["height_cm"] == 158 and encounter["vitals"]["weight_kg"] == 61.5
    assert (encounter["vitals"]["glucose"], encounter["vitals"]["glucose_unit"]) == (7.8, "mmol/L")
    assert [(d["code"], d["text"]) for d in encounter["diagnoses"]] == [("J18.9", "pneumonia"), ("E11", "type 2 diabetes")]
    assert [p["drug"] for p in encounter["prescriptions"]] == ["amoxicillin", "paracetamol"]
    assert encounter["prescriptions"][0] == {"drug": "amoxicillin", "dose": "500 mg", "route": "oral",
                                             "frequency": "3/day", "duration_days": 5}
    [referral] = record["referrals"]
    assert (referral["to_facility"], referral["reason"], referral["urgency"]) == (
        "Soc Trang hospital", "chest X-ray", "urgent")


async def test_a_draft_keeps_every_row(home):
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await open_encounter_for_fatima(pilot)
        app.screen.query_one("#dx-0-code").focus()
        await pilot.press(*"J18.9", "tab", *"pneumonia", "tab", *"E11", "tab", *"diabetes")
        app.screen.query_one("#kind").value = "screening"
        await pilot.pause(0.4)
        await pilot.press("escape")
        await until(pilot, lambda: screen(app) == "ChartScreen")
        await pilot.press("f5")
        await until(pilot, lambda: screen(app) == "EncounterScreen"
                    and app.screen.query("#dx-1-text") and app.screen.query_one("#dx-1-text").value == "diabetes")
        assert app.screen.query_one("#dx-0-code").value == "J18.9"
        assert app.screen.query_one("#kind").value == "screening"
