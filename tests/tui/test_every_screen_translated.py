"""Every screen of the clinic screen, drawn at 80x24 in Arabic and in Vietnamese, shows no English
that comes from the code.

`test_i18n` checks that strings wrapped in `_()` reach the catalogue template; this one finds the
strings never wrapped at all. The clinic's data (patients, places, reasons) is written in Arabic
script, so in Arabic any Latin word on screen is either on the short allow-list below or a leak.
Vietnamese is written in Latin script: there a leak is an English word of the template's msgids
(or of a literal in fieldkit/) that no Vietnamese translation uses.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from textual.widgets import Input
from tui_support import PASSPHRASE, drawn_rows, screen, sign_in, until

from fieldkit import i18n
from fieldkit.records import enrolments, immunizations, referral_services, screening
from fieldkit.records.services import Clinic
from fieldkit.store.db import Store
from fieldkit.store.home import Home
from fieldkit.store.keystore import Keystore, User
from fieldkit.store.session import create_clinic
from fieldkit.sync.identity import new_device_key
from fieldkit.tui.app import FieldkitApp

LOCALE = Path(i18n.__file__).parent / "locale"

# Latin that is right in any language, and why (a unit said as a word, like "/min", is translated):
ALLOWED = {
    "fieldkit",  # the program's name
    "amina", "hoa",  # users' sign-in names are chosen by the clinic, like patients' names
    "news", "qsofa", "spo", "avpu", "acvpu", "icd", "muac", "qr", "svg",  # names of scores and measures, as clinicians say them
    "rr", "csv", "xlsx", "ods",  # respiratory rate as a column heads it (kept by the translations), file formats
    "pin",  # kept in Latin by the Arabic translation, as on phones and bank cards
    "mmhg", "kg", "cm", "mm", "mg", "dl", "mmol", "iu", "ml",  # unit symbols (UCUM: m[IU]/mL)
    "hbsag", "hbs", "anti", "loinc",  # lab tests (HBsAg, Anti-HBs) and a code system, as labs write them
    "esc", "enter", "tab", "ctrl", "pgup", "pgdn",  # key names, as printed on the keys
} | {word.lower() for name in i18n.LANGUAGES.values() for word in name.split()}  # each language's own name
# Stripped before looking: key names (f2, ^p), ICD-10 codes, ids (device hex, record ULIDs, referral
# numbers such as SY-HMS-MC-2026-51FWXT: a facility code, the year, the id's tail), the
# commands and file paths a screen tells staff to type (typed as they are), the right-to-left test card's mixed
# line (a fixed pattern for checking the terminal, the same in every language), and a word cut
# off by a dialog's edge ("MUA█"), whose whole was checked on its own screen.
NOT_WORDS = re.compile("|".join((
    r"\b(?:[fF]\d{1,2}|\^[a-z])\b", r"\b[A-Z]\d{2}(?:\.\d{1,2})?\b", r"\b(?:(?=[0-9a-f]*\d)[0-9a-f]{6,}|[0-9a-f]{8,})\b",
    r"\b(?=[0-9A-Z]*\d)[0-9A-Z]{26}\b", r"\(fieldkit [^)]*\)", r"\bBP 120/80\b", r"(?:~|(?<![\w/])/)[\w.-]*(?:/[\w.-]+)+",
    r"[A-Za-z]+(?=[│█])", r"\b[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*-\d{4}-[0-9A-Z]{6}\b")))
# The Vietnamese run's suspects: words of three letters or more (shorter ones are Vietnamese too).
WORD = re.compile(r"[A-Za-z][A-Za-z'’]+")


def latin_words(line: str) -> list[str]:
    line = NOT_WORDS.sub(" ", line)
    return [w for w in re.findall(r"[A-Za-z]+", line) if w.lower() not in ALLOWED and len(w) > 1]


def msgids(path: Path) -> list[tuple[str, str]]:
    from babel.messages.pofile import read_po

    with path.open("rb") as f:
        return [(m.id if isinstance(m.id, str) else m.id[0], m.string if isinstance(m.string, str) else m.string[0])
                for m in read_po(f) if m.id]


def literals() -> list[str]:
    """Every string literal in fieldkit/: a string never wrapped in `_()` is not in the template."""
    import ast

    found = []
    for path in Path(i18n.__file__).parent.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found += [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)]
    return found


def english_words() -> set[str]:
    """English words of the template and of fieldkit's literals that no Vietnamese translation uses
    (those would be Vietnamese, or Latin kept as-is, like NEWS2)."""
    english = [msgid for msgid, _ in msgids(LOCALE / "fieldkit.pot")] + literals()
    english = {w.lower() for text in english for w in WORD.findall(text) if len(w) > 2}
    vietnamese = {w.lower() for _, text in msgids(LOCALE / "vi" / "LC_MESSAGES" / "fieldkit.po")
                  for w in WORD.findall(text)}
    return english - vietnamese - ALLOWED


def leaks(language: str, shots: dict[str, list[str]]) -> list[str]:
    found = []
    english = english_words() if language == "vi" else set()
    for where, lines in shots.items():
        for line in lines:
            if language == "vi":
                words = [w for w in WORD.findall(NOT_WORDS.sub(" ", line)) if w.lower() in english]
            else:
                words = latin_words(line)
            if words:
                found.append(f"{where}: {' '.join(words)!r} in {line.strip()!r}")
    return found


# -- a clinic whose every patient, place and reason is written in Arabic ----------------------------

SAMIRA = {"given_name": "سميرة", "family_name": "الخطيب", "sex": "female", "birth_date": "1979-06-11",
          "phone": "+963933222111", "locality": "حمص", "allergies": ["البنسلين"], "identifiers": {"هوية": "٠١٢٣٤٥"}}
TWIN = {"given_name": "سميره", "family_name": "الخطيب", "sex": "female", "birth_date": "1979-06-11",
        "locality": "حمص", "allergies": ["الأسبرين"]}
KHALED = {"given_name": "خالد", "family_name": "العلي", "sex": "male", "birth_date": "2015-02-01",
          "birth_date_estimated": True, "locality": "حماة"}


@pytest.fixture
def clinic(tmp_path):
    home = Home(tmp_path / "clinic")
    key, device = new_device_key()
    store, user = create_clinic(home, supervisor="amina", passphrase=PASSPHRASE, device_id=device, device_key=key)
    clinic = Clinic(store, user)
    samira = clinic.register(SAMIRA).patient_id
    twin = clinic.register(TWIN, reason="تقول إنها لم تأت من قبل").patient_id
    khaled = clinic.register(KHALED).patient_id
    soon = (date.today() - timedelta(days=1)).isoformat()
    clinic.record_encounter({"patient_id": samira, "vitals": {"temperature_c": 38.6, "pulse": 112, "resp_rate": 24},
                             "diagnoses": [{"code": "J18.9", "text": "ذات الرئة"}],
                             "prescriptions": [{"drug": "أموكسيسيلين", "dose": "٥٠٠ ملغ", "duration_days": 7}],
                             "referral": {"to_facility": "مشفى حمص", "reason": "ضيق نفس", "urgency": "urgent"},
                             "follow_up": {"due": soon, "reason": "مراجعة"}, "notes": "سعال منذ أسبوع"})
    clinic.record_encounter({"patient_id": twin, "vitals": {"temperature_c": 39.4, "pulse": 135, "resp_rate": 26,
                                                            "systolic_bp": 88, "spo2": 90, "avpu": "V"},
                             "referral": {"to_facility": "مشفى حماة", "urgency": "emergency"}})
    clinic.record_encounter({"patient_id": khaled, "vitals": {"pulse": 100}, "follow_up": {"due": soon}})
    clinic.merge(twin, samira)
    # Home follow-up: Samira's check-in yesterday was red; Khaled has not answered for three days.
    started = date.today() - timedelta(days=3)
    followed = clinic.run(enrolments.enrol, {"patient_id": samira, "programme": "home-triage",
                                             "enrolled_on": started.isoformat(), "team": "فريق حمص"})
    for offset, spo2 in ((0, 97), (1, 95), (2, 86)):
        clinic.run(enrolments.check_in, {"enrolment_id": followed, "day": (started + timedelta(days=offset)).isoformat(),
                                         "spo2": spo2, "resp_rate": 22, "symptoms": ["breathless_rest"] if spo2 < 90 else []})
    clinic.run(enrolments.enrol, {"patient_id": khaled, "programme": "home-triage", "enrolled_on": started.isoformat()})
    clinic.run(enrolments.enrol, {"patient_id": khaled, "programme": "oncology-abroad", "attributes": {
        "destination_country": "Tunisia", "cancer_site": "الدم", "branch_office": "حمص"}})
    # Khaled referred and sent, then marked arrived on the other laptop and cancelled here: disputed.
    disputed = clinic.run(referral_services.refer, {"patient_id": khaled, "to_facility": "مشفى حماة", "urgency": "urgent"})
    clinic.run(referral_services.record_event, disputed, {"type": "sent"})
    # Two laptops changed Khaled's birth date without seeing each other: a conflict to settle.
    other = Store(tmp_path / "other-laptop.db", bytes(range(32)), device_id="f" * 32)
    other.ingest(store.entries_after({}, limit=10**6))
    clinic.edit(khaled, {"birth_date": "2014-02-01"})
    Clinic(other, User("0f1e2d3c4b5a6978", "hoa", "clinician")).edit(khaled, {"birth_date": "2016-02-01"})
    Clinic(other, User("0f1e2d3c4b5a6978", "hoa", "clinician")).run(referral_services.record_event, disputed,
                                                                       {"type": "arrived"})
    clinic.run(referral_services.record_event, disputed, {"type": "cancelled"})
    # Hepatitis B: Samira's first dose three weeks ago, from a lot listed with its expiry; a round.
    clinic.run(immunizations.add_lot, {"vaccine": "hepb-adult", "lot": "2291",
                                       "expiry": (date.today() + timedelta(days=300)).isoformat()})
    clinic.run(immunizations.give, {"patient_id": samira, "vaccine": "hepb-adult", "lot": "2291",
                                    "occurred": (date.today() - timedelta(weeks=3)).isoformat()})
    clinic.run(screening.create_round, {"name": "جولة حمص", "starts": started.isoformat(), "tests": ["hbsag"]})
    store.ingest(other.entries_after(store.version_vector(), limit=10**6))
    other.close()
    store.close()
    return home


def speaking(home: Home, language: str) -> Home:
    Keystore(home.keystore).set_language("amina", language)
    Keystore(home.keystore).set_setting("language", language)  # the sign-in screen's language
    return home


async def settled(pilot) -> list[str]:
    app = pilot.app
    await until(pilot, lambda: not any(worker.is_running for worker in app.workers))
    for field in app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause(0.2)
    return drawn_rows(app)


async def tour(pilot) -> dict[str, list[str]]:
    """Every screen staff can reach, as text: one entry per screen (and per state worth seeing)."""
    from fieldkit.tui.chart import ChartScreen
    from fieldkit.tui.conflicts import ConflictScreen
    from fieldkit.tui.edit import EditScreen
    from fieldkit.tui.encounter import EncounterScreen
    from fieldkit.tui.encounter_view import EncounterView
    from fieldkit.tui.enrol import EnrolScreen
    from fieldkit.tui.merge import MergeScreen
    from fieldkit.tui.network import NetworkScreen
    from fieldkit.tui.register import RegisterScreen
    from fieldkit.tui.settings import SettingsScreen
    from fieldkit.tui.status import SyncScreen
    from fieldkit.tui.summary import SummaryScreen
    from fieldkit.tui.task import TaskScreen
    from fieldkit.tui.users import UsersScreen

    app = pilot.app
    shots: dict[str, list[str]] = {}
    await until(pilot, lambda: screen(app) == "UnlockScreen" and app.screen.focused is not None)
    await pilot.press(*"not it", "enter")
    await pilot.pause(0.5)
    shots["sign-in, wrong passphrase"] = await settled(pilot)
    await pilot.press(*[("backspace")] * 6)
    await sign_in(pilot)
    await until(pilot, lambda: app.screen.query_one("#results").row_count >= 1)
    shots["home, today's lists"] = await settled(pilot)
    await pilot.press(*"سميرة")
    await until(pilot, lambda: app.screen.query_one("#results").row_count >= 1)
    shots["home, search results"] = await settled(pilot)
    await pilot.press(*"12")
    shots["home, short search"] = await settled(pilot)

    desk = app.desk
    samira = (await desk.search("+963933222111"))[0]
    record = await desk.patient(samira.id)

    async def visit(name: str, made, ready=lambda: True, keys=()) -> None:
        await app.push_screen(made)
        await until(pilot, lambda: app.screen is made and ready())
        for key in keys:
            await pilot.press(key)
        shots[name] = await settled(pilot)

    async def back() -> None:
        top = app.screen
        app.pop_screen()
        await until(pilot, lambda: app.screen is not top)

    await visit("chart", ChartScreen(samira.id), lambda: app.screen.record is not None)
    await pilot.press("ctrl+p")
    await pilot.pause(0.5)
    shots["palette, on the chart"] = await settled(pilot)
    await pilot.press("escape")
    await pilot.pause(0.3)
    for merged in record["merged"]:
        await visit("chart of the merged record", ChartScreen(merged["id"]), lambda: app.screen.record is not None)
        await back()
    await back()
    for encounter in record["encounters"]:
        await visit(f"encounter view {encounter['id'][:6]}", EncounterView(record, encounter["id"]))
        await pilot.press("f3")
        await pilot.pause(0.5)
        shots["amend, asked for the note"] = await settled(pilot)
        await pilot.press("escape")
        await pilot.pause(0.3)
        await back()
    await visit("task, followup", TaskScreen(record["followups"][0]))  # a referral opens its own screen
    await back()
    await visit("edit", EditScreen(record))
    await back()

    form = EncounterScreen(samira.id, record)
    await visit("encounter, empty", form)
    for reading in ("52", "118", "24", "98", "60", "93"):
        await pilot.press(*reading, "tab")
    await pilot.pause(0.5)
    shots["encounter, refused temperature and live scores"] = await settled(pilot)
    await pilot.press("f2")
    await pilot.pause(0.5)
    shots["encounter, refused on save"] = await settled(pilot)
    await back()
    await visit("encounter, very high NEWS2", EncounterScreen(samira.id, record))
    for reading in ("39.4", "135", "26", "88", "50", "90"):
        await pilot.press(*reading, "tab")
    await pilot.press("v", "tab", "f2")
    await until(pilot, lambda: screen(app) == "EscalateScreen")
    shots["escalation asked before saving"] = await settled(pilot)
    await pilot.press("escape")
    await pilot.pause(0.3)
    await back()
    khaled = (await desk.search("خالد"))[0]
    await visit("encounter, readings missing", EncounterScreen(khaled.id, await desk.patient(khaled.id)))
    await pilot.press(*"37", "tab", *"80", "tab", "f2")
    await until(pilot, lambda: screen(app) == "HomeScreen")  # saved: the summary is said on the screen below
    shots["saved with readings missing: the score's summary"] = await settled(pilot)

    await visit("register, empty", RegisterScreen())
    await pilot.press(*"سميرة", "tab", "tab", *"الخطيب", "tab", *"1979-06-11", "f2")
    await until(pilot, lambda: app.screen.query_one("#duplicates").row_count >= 1)
    shots["register, duplicate warning"] = await settled(pilot)
    await back()

    await visit("merge, flagged pairs", MergeScreen())
    await pilot.press("enter")
    await pilot.pause(0.5)
    shots["merge, side by side"] = await settled(pilot)
    await back()
    await visit("merge, from the chart", MergeScreen(samira.id))
    await back()
    await visit("conflicts", ConflictScreen(), lambda: bool(app.screen.conflicts))
    await back()
    await visit("day summary", SummaryScreen(date.today()))
    await back()
    await visit("sync", SyncScreen())
    await pilot.press("l")
    await pilot.pause(0.5)
    shots["network"] = await settled(pilot)
    await back()
    await back()
    await visit("network, direct", NetworkScreen())
    await back()
    await visit("users", UsersScreen())
    await back()
    await visit("settings", SettingsScreen(5))
    await back()
    await visit("enrol", EnrolScreen())
    await back()
    await programme_tour(pilot, shots, visit, back, samira.id)
    await referral_tour(pilot, shots, visit, back, samira.id, record)
    await lab_and_vaccine_tour(pilot, shots, visit, back, samira.id)
    await pilot.press("ctrl+p")
    await pilot.pause(0.5)
    shots["palette, on home"] = await settled(pilot)
    await pilot.press("escape")
    await pilot.pause(0.3)
    await pilot.press("f12")
    await until(pilot, lambda: screen(app) == "LockScreen")
    shots["lock"] = await settled(pilot)
    await pilot.press(*"not it", "enter")
    await pilot.pause(0.5)
    shots["lock, wrong passphrase"] = await settled(pilot)
    return shots


async def programme_tour(pilot, shots, visit, back, samira: str) -> None:
    """The programme screens: the worklist's lists, a check-in refused then red, the escalation,
    the programmes and a line list, enrolling, an enrolment and closing it."""
    from fieldkit.tui.enrolment import EnrolForm, EnrolmentScreen
    from fieldkit.tui.programmes import ProgrammesScreen
    from fieldkit.tui.worklist import WorklistScreen

    app = pilot.app
    await visit("worklist, due", WorklistScreen(), lambda: app.screen.loaded)
    for key, name in (("2", "escalations"), ("3", "missed twice"), ("4", "ready to close")):
        await pilot.press(key)
        shots[f"worklist, {name}"] = await settled(pilot)
    await pilot.press("1")
    await until(pilot, lambda: app.screen.view == "due" and bool(app.screen.lists["due"]))
    await pilot.press("enter")
    await until(pilot, lambda: screen(app) == "CheckinScreen" and app.screen.ruleset is not None)
    await pilot.press(*"120", "tab", *"31", "tab", "f2")
    await until(pilot, lambda: str(app.screen.query_one("#checkin-error").render()).strip() != "")
    shots["check-in, refused"] = await settled(pilot)
    app.screen.query_one("#spo2").value = ""
    app.screen.query_one("#spo2").focus()
    await pilot.press(*"86", "f2")
    await until(pilot, lambda: screen(app) == "CheckinSaved")
    shots["check-in saved, red"] = await settled(pilot)
    await pilot.press("1")
    await until(pilot, lambda: screen(app) == "EscalationScreen")
    shots["escalation"] = await settled(pilot)
    await pilot.press("1", "f2")
    await pilot.pause(0.3)
    shots["escalation, transfer"] = await settled(pilot)
    await pilot.press("escape")
    await until(pilot, lambda: screen(app) == "WorklistScreen")
    await back()

    await visit("programmes", ProgrammesScreen(), lambda: bool(app.screen.shown))
    await pilot.press("down", "enter")
    await until(pilot, lambda: screen(app) == "LineListScreen" and bool(app.screen.rows))
    app.screen.query_one("#group-by").value = "destination_country"
    shots["line list by destination"] = await settled(pilot)
    await pilot.press("f5")
    await until(pilot, lambda: screen(app) == "Ask")
    await pilot.press("f2")
    await pilot.pause(0.3)
    shots["line list, export asked"] = await settled(pilot)
    await pilot.press("escape")
    await pilot.pause(0.3)
    await back()
    await back()

    form = EnrolForm(samira, "سميرة الخطيب")
    await visit("enrol in a programme", form, lambda: bool(form.programmes))
    form.query_one("#programme").value = "oncology-abroad"
    await pilot.pause(0.3)
    await pilot.press("f2")
    await until(pilot, lambda: str(form.query_one("#enrol-error").render()).strip() != "")
    shots["enrol in a programme, refused"] = await settled(pilot)
    await back()
    [followed, *_others] = await app.desk.enrolments_of([samira])
    await visit("enrolment", EnrolmentScreen(followed["id"]), lambda: app.screen.enrolment is not None)
    await pilot.press("3")  # check in, pause, complete, cancel
    await until(pilot, lambda: screen(app) == "CloseForm")
    await pilot.press("f2")
    await until(pilot, lambda: str(app.screen.query_one("#close-error").render()).strip() != "")
    shots["close, no outcome"] = await settled(pilot)
    await pilot.press("escape")
    await pilot.pause(0.3)
    await back()


async def referral_tour(pilot, shots, visit, back, samira: str, record) -> None:
    """The referral screens: the tracker, "referrals to us" on a laptop with no facility set, a
    disputed referral and its settling refused without a reason, a referral with the events it
    offers and each form that asks more (refused first), the letter, and referring from the chart."""
    from fieldkit.tui.refer import ReferScreen
    from fieldkit.tui.referral_view import ReferralScreen
    from fieldkit.tui.referrals import TrackerScreen

    app = pilot.app

    def error() -> str:
        return str(app.screen.query_one(".error").render()).strip()

    async def record_event(event: str) -> None:
        await pilot.press("f5")
        await until(pilot, lambda: screen(app) == "EventChooser")
        events = app.screen.query_one("#events")
        ids = [events.get_option_at_index(i).id for i in range(events.option_count)]
        await pilot.press(*["down"] * ids.index(event), "enter")

    tracker = TrackerScreen()
    await visit("referral tracker", tracker, lambda: bool(tracker.items.get("disputed")))
    await pilot.press("f6")
    await until(pilot, lambda: screen(app) == "ToUsScreen" and "fieldkit" in str(app.screen.query_one("#to_us-title").render()))
    shots["referrals to us, no facility set"] = await settled(pilot)
    await pilot.press("escape")
    await until(pilot, lambda: app.screen is tracker)

    [dispute] = tracker.items["disputed"]
    await visit("referral, disputed", ReferralScreen(dispute["referral_id"]), lambda: app.screen.referral is not None)
    await pilot.press("f8")
    await until(pilot, lambda: screen(app) == "SettleForm")
    await pilot.press("f2")
    await until(pilot, lambda: bool(error()))
    shots["settle a dispute, no reason"] = await settled(pilot)
    await pilot.press("escape")
    await until(pilot, lambda: screen(app) == "ReferralScreen")
    await back()

    to_send = next(item for item in tracker.items["to_send"] if item["patient_id"] == samira)
    await visit("referral", ReferralScreen(to_send["id"]), lambda: app.screen.referral is not None)
    await pilot.press("f5")
    await until(pilot, lambda: screen(app) == "EventChooser")
    shots["record an event: the events offered"] = await settled(pilot)
    await pilot.press("escape")
    for event, typed in (("not_attended", ""), ("redirected", "مشفى")):
        await record_event(event)
        await until(pilot, lambda: screen(app) == "EventForm")
        await pilot.press("f2")
        await until(pilot, lambda: bool(error()))
        await pilot.press(*typed)
        shots[f"event form, {event}, refused"] = await settled(pilot)
        await pilot.press("escape")
        await until(pilot, lambda: screen(app) == "ReferralScreen")
    await record_event("sent")
    await until(pilot, lambda: screen(app) == "ReferralScreen" and app.screen.referral["status"] == "sent")
    await record_event("feedback")
    await until(pilot, lambda: screen(app) == "EventForm")
    await pilot.press("f2")
    await until(pilot, lambda: bool(error()))
    shots["feedback form, refused"] = await settled(pilot)
    await pilot.press("escape")
    await until(pilot, lambda: screen(app) == "ReferralScreen")
    shots["referral, sent"] = await settled(pilot)
    if app.screen.check_action("letter", ()):
        await pilot.press("f6")
        await until(pilot, lambda: screen(app) == "LetterForm")
        shots["print the letter"] = await settled(pilot)
        await pilot.press("escape")
        await until(pilot, lambda: screen(app) == "ReferralScreen")
    await back()
    await back()

    await visit("refer", ReferScreen(samira, record))
    await pilot.press("f2")
    await until(pilot, lambda: bool(str(app.screen.query_one("#refer-error").render()).strip()))
    await pilot.press(*"مشفى")
    shots["refer, refused, an unlisted facility"] = await settled(pilot)
    await back()


async def lab_and_vaccine_tour(pilot, shots, visit, back, samira: str) -> None:
    """The lab and vaccination screens: a result refused, then saved with its interpretation; the
    result with its history and the correction form; a dose too early, its reason asked; the card;
    the due list; a lab file's import refused without a file; the quarantine; the rounds; a backup with no folder."""
    from fieldkit.tui.backup import BackupScreen
    from fieldkit.tui.lab_import import ImportScreen
    from fieldkit.tui.labs import LabResultForm, ResultScreen
    from fieldkit.tui.quarantine import QuarantineScreen
    from fieldkit.tui.rounds import RoundsScreen
    from fieldkit.tui.vaccinate import VaccinateForm
    from fieldkit.tui.vaccinations import CardScreen, DueListScreen

    app = pilot.app

    def said(selector: str) -> bool:
        return str(app.screen.query_one(selector).render()).strip() != ""

    form = LabResultForm(samira, "سميرة الخطيب")
    await visit("lab result", form, lambda: bool(form.tests))
    form.query_one("#test").value = "anti-hbs"
    await pilot.pause(0.2)
    await pilot.press(*"ثمانية", "f2")  # a number in words: refused
    await until(pilot, lambda: said("#lab-error"))
    shots["lab result, refused"] = await settled(pilot)
    form.query_one("#value").value = "8"
    await pilot.press("f2")
    await until(pilot, lambda: said("#lab-saved"))
    shots["lab result, saved"] = await settled(pilot)
    await back()
    [result] = await app.desk.lab_results_of(samira)
    await visit("lab result and its history", ResultScreen(result["id"], "سميرة الخطيب"),
                lambda: app.screen.result is not None)
    await pilot.press("f3")
    await until(pilot, lambda: screen(app) == "CorrectForm")
    shots["lab result, correct"] = await settled(pilot)
    await pilot.press("escape")
    await until(pilot, lambda: screen(app) == "ResultScreen")
    await back()

    dose = VaccinateForm(samira, "سميرة الخطيب")
    await visit("vaccinate", dose, lambda: dose.card is not None)
    dose.query_one("#vaccine").value = "hepb-adult"
    await until(pilot, lambda: len(dose.lots) == 1)
    dose.query_one("#lot").value = "2291"
    await pilot.press("f2")
    await until(pilot, lambda: said("#vaccinate-error") and dose.query_one("#reason-row").display)
    shots["vaccinate, too early: the reason asked"] = await settled(pilot)
    await back()
    await visit("vaccination card", CardScreen(samira), lambda: app.screen.card is not None)
    await back()
    await visit("vaccinations due", DueListScreen(), lambda: app.screen.loaded)
    await back()
    await visit("import a lab's file", ImportScreen())
    await pilot.press("f2")
    await until(pilot, lambda: said("#import-error"))
    shots["import a lab's file, no file"] = await settled(pilot)
    await back()
    await visit("quarantined lab rows", QuarantineScreen(), lambda: app.screen.loaded)
    await back()
    await visit("screening rounds", RoundsScreen(), lambda: app.screen.loaded)
    await back()
    await visit("back up to a stick", BackupScreen())
    app.screen.query_one("#destination", Input).value = ""
    await pilot.press("f2")
    await until(pilot, lambda: said("#backup-error"))
    shots["back up to a stick, no folder"] = await settled(pilot)
    await back()


@pytest.mark.parametrize("language", ["ar", "vi"])
async def test_no_english_from_the_code_on_any_screen(clinic, language):
    app = FieldkitApp(speaking(clinic, language), idle_lock_seconds=10**6)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            shots = await tour(pilot)
    finally:
        i18n.set_language("en")
    found = leaks(language, shots)
    assert not found, f"{len(found)} lines with English in {language}:\n" + "\n".join(found)
