"""Lab results at 80x24, by keyboard, on a real clinic: a result recorded from the chart (a bad value
refused in one line, nothing saved) and seen there with its interpretation; corrected, its history
keeping the old value; a lab's file checked (one row ok, one quarantined), imported, its result on
the chart, the same file refused in one line; the quarantined row matched to its patient; a
round's counts; and each screen fitting 80 columns."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
from tui_support import (
    all_drawn,
    choose,
    drawn,
    journal_length,
    open_chart,
    screen,
    seed,
    sign_in,
    text,
    until,
)

from fieldkit import i18n
from fieldkit.i18n import _
from fieldkit.records import immunizations, screening
from fieldkit.records.services import Clinic
from fieldkit.store.keystore import Keystore
from fieldkit.tui.app import FieldkitApp

TODAY = date.today()
STAFF = {"given_name": "Rania", "family_name": "Haddad", "sex": "female", "birth_date": "1985-04-02",
         "identifiers": {"staff": "S-1001"}}


async def test_a_result_typed_on_the_chart_is_shown_corrected_and_keeps_its_history(home):
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await open_chart(pilot, "fatima")
        await pilot.press("f6")
        await until(pilot, lambda: screen(app) == "LabResultForm" and bool(app.screen.tests))
        await choose(pilot, "#test", "Anti-HBs")
        assert app.screen.focused.id == "value"  # the test chosen, the value is next
        assert "m[IU]/mL" in drawn(app)  # its unit is chosen from its own, not typed
        before = await journal_length(app)
        await pilot.press(*"abc", "f2")
        await until(pilot, lambda: text(app, "#lab-error").strip() != "")
        assert "“abc” is not a number" in text(app, "#lab-error")
        assert "\n" not in text(app, "#lab-error").strip() and await journal_length(app) == before
        await pilot.press(*["backspace"] * 3, "8", "f2")
        await until(pilot, lambda: "Saved" in text(app, "#lab-saved"))
        assert "Anti-HBs 8 m[IU]/mL: low" in text(app, "#lab-saved")
        await pilot.press("f2")  # a second F2 on the same result saves nothing twice
        await until(pilot, lambda: "saved already" in text(app, "#lab-error"))
        await pilot.press("escape")
        await until(pilot, lambda: screen(app) == "ChartScreen" and bool(app.screen.query_one("#results").items))
        line = text(app, "#results")
        assert "Anti-HBs" in line and "8 m[IU]/mL" in line and "low" in line and "final" in line

        while app.screen.focused is not app.screen.query_one("#results"):
            await pilot.press("tab")
        await pilot.press("enter")
        await until(pilot, lambda: screen(app) == "ResultScreen" and app.screen.result is not None)
        await pilot.press("f3")
        await until(pilot, lambda: screen(app) == "CorrectForm" and app.screen.focused is not None)
        await pilot.press(*"12", "tab", "tab", *"typed 8 for 12", "f2")
        await until(pilot, lambda: screen(app) == "ResultScreen" and app.screen.result["status"] == "corrected")
        history = text(app, "#result-history").splitlines()
        assert len(history) == 2 and "8 m[IU]/mL" in history[0] and "final" in history[0]
        assert "12 m[IU]/mL" in history[1] and "[CORRECTED]" in history[1] and "typed 8 for 12" in history[1]
        assert "normal" in text(app, "#result-details")

        await pilot.press("f4")
        await until(pilot, lambda: screen(app) == "Ask")
        await pilot.press(*"wrong patient", "f2")
        await until(pilot, lambda: screen(app) == "ResultScreen" and app.screen.result["status"] == "entered-in-error")
        assert not app.screen.check_action("correct", ())  # nothing more to correct
        await pilot.press("escape")
        await until(pilot, lambda: "[ENTERED IN ERROR]" in text(app, "#results"))


LAB_FILE = ("Sample ID,Staff ID,Date of birth,Name,Test,Result,Unit,Collected\n"
            "B1,S-1001,02/04/1985,Rania Haddad,Anti-HBs,25,mIU/mL,{day}\n"
            "B2,S-9999,01/01/1970,Omar Nobody,HBsAg,Non-reactive,,{day}\n")


async def test_a_lab_file_is_checked_imported_once_and_its_quarantined_row_matched(home, tmp_path):
    def build(clinic: Clinic) -> None:
        rania = clinic.register(STAFF).patient_id
        clinic.run(immunizations.give, {"patient_id": rania, "vaccine": "hepb-adult", "lot": "HB-1",
                                        "occurred": (TODAY - timedelta(days=100)).isoformat()})
        clinic.run(screening.create_round, {"name": "Homs staff 2026", "starts": (TODAY - timedelta(days=20)).isoformat(),
                                            "tests": ["anti-hbs", "hbsag"]})
    await seed(home, build)
    collected = TODAY - timedelta(days=3)
    path = tmp_path / "results.csv"
    path.write_text(LAB_FILE.format(day=collected.strftime("%d/%m/%Y")), encoding="utf-8")
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        app.action_import_labs()
        await until(pilot, lambda: screen(app) == "ImportScreen" and app.screen.focused is not None)
        await pilot.press("f5")  # nothing checked yet: nothing written
        await until(pilot, lambda: text(app, "#import-error").strip() != "")
        await pilot.press(*str(path))
        await choose(pilot, "#template", "Homs Public Health")
        await choose(pilot, "#round", "Homs staff 2026")
        before = await journal_length(app)
        await pilot.press("f2")
        await until(pilot, lambda: app.screen.plan is not None)
        assert await journal_length(app) == before, "a dry run writes nothing"
        summary = text(app, "#import-summary").splitlines()
        assert "ok: 1" in summary and "quarantined: no patient matched: 1" in summary and "with errors: 0" in summary
        assert app.screen.query_one("#problems").row_count == 1  # the unmatched row, by row and column
        assert "Staff ID" in drawn(app) and "E_NO_MATCH" in drawn(app)

        await pilot.press("f3")  # the problems as CSV: never into the clinic's data folder
        await until(pilot, lambda: screen(app) == "Ask")
        await pilot.press(*str(home.path / "problems.csv"), "f2")
        await until(pilot, lambda: "data folder" in text(app, "#ask-error"))
        assert not (home.path / "problems.csv").exists()
        app.screen.query_one("#answer").value = str(tmp_path / "problems.csv")
        await pilot.press("f2")
        await until(pilot, lambda: screen(app) == "ImportScreen")
        assert "E_NO_MATCH" in (tmp_path / "problems.csv").read_text(encoding="utf-8")

        await pilot.press("f5")
        await until(pilot, lambda: "Imported" in text(app, "#import-error"))
        assert "new results 1" in text(app, "#import-error") and "rows quarantined 1" in text(app, "#import-error")
        await pilot.press("f2")
        await until(pilot, lambda: app.screen.plan is not None)
        refusal = text(app, "#import-error").strip()
        assert "nothing is added twice" in refusal
        written = await journal_length(app)
        await pilot.press("f5")
        await until(pilot, lambda: "nothing is added twice" in text(app, "#import-error"))
        assert await journal_length(app) == written
        assert "\n" not in text(app, "#import-error").strip(), "refused in one line"

        app.pop_screen()
        app.action_quarantine()
        await until(pilot, lambda: screen(app) == "QuarantineScreen" and app.screen.loaded)
        assert "Omar Nobody" in drawn(app) and "S-9999" in drawn(app)
        await pilot.press("enter")
        await until(pilot, lambda: screen(app) == "ChoosePatient")
        app.screen.query_one("#who").value = ""
        await pilot.press(*"rania")
        await until(pilot, lambda: bool(app.screen.found))
        await pilot.press("down", "enter")
        await until(pilot, lambda: screen(app) == "QuarantineScreen" and app.screen.loaded and not app.screen.rows)
        assert "No lab row waits" in text(app, "#quarantine-title")

        app.action_rounds()
        await until(pilot, lambda: screen(app) == "RoundsScreen" and app.screen.loaded)
        shown = drawn(app)
        assert "Homs staff 2026" in shown and "People tested: 1" in shown
        assert "Anti-HBs: 1 tested" in shown and "HBsAg: 1 tested" in shown
        assert "Of those tested: 1 vaccinated · 0 completed a series" in shown

        app.pop_screen()
        app.pop_screen()
        await until(pilot, lambda: screen(app) == "HomeScreen")
        await open_chart(pilot, "rania")
        await until(pilot, lambda: len(app.screen.query_one("#results").items) == 2)
        results = text(app, "#results")
        assert "25 m[IU]/mL" in results and "normal" in results and "negative" in results


SCREENS = ("LabResultForm", "ImportScreen", "QuarantineScreen", "RoundsScreen")


@pytest.mark.parametrize("language", ["ar", "fa", "vi", "fr", "en"])
async def test_the_lab_screens_fit_in_80_columns(home, language):
    await asyncio.to_thread(Keystore(home.keystore).set_language, "amina", language)
    app = FieldkitApp(home)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await sign_in(pilot)
            await open_chart(pilot, "فاطمة")
            await pilot.press("f6")
            await until(pilot, lambda: screen(app) == "LabResultForm" and bool(app.screen.tests))
            i18n.set_language(language)
            await all_drawn(pilot, [_("Test"), _("Collected"), _("Sample id"), _("Save"), _("Back"), _("Lock")])
            app.pop_screen()
            for action, words in (("import_labs", [_("File"), _("Template"), _("Round"), _("Check"),
                                                   _("Import"), _("Lock")]),
                                  ("quarantine", [_("No lab row waits in the quarantine."), _("Back"), _("Lock")]),
                                  ("rounds", [_("Screening rounds: people tested, and their vaccination"), _("Back"),
                                              _("Lock")])):
                getattr(app, f"action_{action}")()
                await until(pilot, lambda: screen(app) in SCREENS[1:] and not any(w.is_running for w in app.workers))
                await all_drawn(pilot, words)
                app.pop_screen()
                await pilot.pause(0.1)
    finally:
        i18n.set_language("en")


def test_the_catalogue_has_every_shipped_test_name():
    """The test table's names reach the translators through lab_codes.SHIPPED_TEXT."""
    from fieldkit.records import lab_codes, site

    site.use(None)
    assert {test.name for test in lab_codes.tests().values()} == set(lab_codes.SHIPPED_TEXT)
