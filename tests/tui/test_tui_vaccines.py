"""Vaccinations at 80x24, by keyboard, on a real clinic: hepatitis B dose 1, then dose 2 three weeks
later, which the form saves only with a reason, the card showing it flagged; the dose number
derived, never typed; an expired lot marked yet choosable; a dose not given and one given
elsewhere with a year for a date; a dose marked entered in error from the card; the due list with
an overdue person first, opening the chart; and each screen fitting 80 columns."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
from tui_support import (
    all_drawn,
    choose,
    drawn,
    drawn_rows,
    journal_length,
    open_chart,
    screen,
    seed,
    sign_in,
    text,
    until,
)

from fieldkit import i18n
from fieldkit.i18n import _, digits
from fieldkit.records import immunizations
from fieldkit.records.services import Clinic
from fieldkit.store.keystore import Keystore
from fieldkit.tui.app import FieldkitApp

TODAY = date.today()
HEPB = "hepb-adult"


def lots(clinic: Clinic) -> None:
    clinic.run(immunizations.add_lot, {"vaccine": HEPB, "lot": "HB-2291", "expiry": (TODAY + timedelta(days=300)).isoformat()})
    clinic.run(immunizations.add_lot, {"vaccine": HEPB, "lot": "HB-OLD", "expiry": (TODAY - timedelta(days=60)).isoformat()})


async def open_form(pilot) -> None:
    app = pilot.app
    await pilot.press("f10")
    await until(pilot, lambda: screen(app) == "VaccinateForm" and app.screen.card is not None
                and app.screen.query_one("#vaccine")._options[1:])


async def retype(pilot, selector: str, typed: str) -> None:
    field = pilot.app.screen.query_one(selector)
    field.focus()
    field.value = ""
    await pilot.press(*typed)


async def test_dose_two_three_weeks_after_dose_one_is_saved_with_a_reason_and_flagged_on_the_card(home):
    await seed(home, lots)
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await open_chart(pilot, "fatima")
        await open_form(pilot)
        await choose(pilot, "#vaccine", "Hepatitis B")
        await until(pilot, lambda: "dose 1 of Hepatitis B" in text(app, "#dose-number"))
        lot = app.screen.query_one("#lot")
        await until(pilot, lambda: len(lot._options) == 3)
        assert [str(prompt) for prompt, _v in lot._options[1:]] == [  # the expired lot stays choosable, marked
            f"HB-OLD · EXPIRED {i18n.day(TODAY - timedelta(days=60))}", f"HB-2291 · expires {i18n.day(TODAY + timedelta(days=300))}"]
        first = TODAY - timedelta(weeks=3)
        await retype(pilot, "#day", digits(f"{first:%d/%m/%Y}"))
        await choose(pilot, "#lot", "HB-2291")
        await pilot.press("f2")
        await until(pilot, lambda: "Saved: dose 1 of Hepatitis B" in text(app, "#vaccinate-saved"))
        await until(pilot, lambda: "dose 2 of Hepatitis B" in text(app, "#dose-number"))  # derived again, not typed

        await retype(pilot, "#day", digits(f"{TODAY:%d/%m/%Y}"))
        before = await journal_length(app)
        await pilot.press("f2")
        await until(pilot, lambda: "below minimum interval" in text(app, "#vaccinate-error"))
        assert await journal_length(app) == before, "refused: nothing saved"
        assert app.screen.query_one("#reason-row").display and app.screen.focused.id == "reason"
        assert "Why give it early" in drawn(app)
        await pilot.press(*"leaves for Deir ez-Zor", "f2")
        await until(pilot, lambda: "Saved: dose 2 of Hepatitis B" in text(app, "#vaccinate-saved"))
        assert "[below minimum interval]" in text(app, "#vaccinate-saved")
        await pilot.press("f2")  # F2 again: the same dose is not recorded twice
        await until(pilot, lambda: "saved already" in text(app, "#vaccinate-error"))

        await pilot.press("escape")
        await until(pilot, lambda: screen(app) == "ChartScreen" and "dose" not in text(app, "#vaccinations")
                    and "Hepatitis B 2" in text(app, "#vaccinations"))
        assert "[below minimum interval]" in text(app, "#vaccinations")
        while app.screen.focused is not app.screen.query_one("#vaccinations"):
            await pilot.press("tab")
        await pilot.press("enter")
        await until(pilot, lambda: screen(app) == "CardScreen" and app.screen.card is not None)
        card = text(app, "#doses")
        assert "Hepatitis B 2: given" in card and "[below minimum interval]" in card
        assert "given early: leaves for Deir ez-Zor" in card and "Hepatitis B 3: too early" in card

        # Dose 2 was never given after all: entered in error from the card, with a reason.
        await pilot.press("down", "down")  # the schedule's title, dose 1, dose 2
        assert "Hepatitis B 2" in app.screen.query_one("#doses").items[2][0]
        await pilot.press("f4")
        await until(pilot, lambda: screen(app) == "Ask")
        await pilot.press(*"recorded on the wrong person", "f2")
        await until(pilot, lambda: screen(app) == "CardScreen" and "[ENTERED IN ERROR]" in text(app, "#doses"))
        assert "Hepatitis B 2: too early" in text(app, "#doses")  # it leaves the series: dose 2 is pending again


async def test_not_given_and_given_elsewhere_with_a_year(home):
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await open_chart(pilot, "fatima")
        await open_form(pilot)
        await choose(pilot, "#mode", "Given elsewhere")
        assert not app.screen.query_one("#site-row").display and app.screen.query_one("#lot-row").display
        await choose(pilot, "#vaccine", "Hepatitis B")
        await retype(pilot, "#day", "2019")
        await pilot.press("f2")
        await until(pilot, lambda: "given elsewhere" in text(app, "#vaccinate-saved"))
        assert "no lot" not in text(app, "#vaccinate-saved")  # a dose given elsewhere needs none

        await choose(pilot, "#mode", "Not given")
        assert app.screen.query_one("#why-not-row").display and not app.screen.query_one("#lot-row").display
        await retype(pilot, "#day", digits(f"{TODAY:%d/%m/%Y}"))
        await pilot.press("f2")
        await until(pilot, lambda: "choose one of the reasons" in text(app, "#vaccinate-error"))
        await choose(pilot, "#why-not", "refused")
        await pilot.press("f2")
        await until(pilot, lambda: "not given" in text(app, "#vaccinate-saved"))
        await pilot.press("escape")
        await until(pilot, lambda: screen(app) == "ChartScreen" and "not given" in text(app, "#vaccinations"))
        listed = text(app, "#vaccinations")
        assert "given elsewhere 2019" in listed and "refused" in listed


async def test_the_due_list_puts_the_overdue_first_and_opens_the_chart(home):
    def build(clinic: Clinic) -> None:
        late = clinic.register({"given_name": "Zaid", "family_name": "Khalil", "sex": "male", "birth_date": "1980-01-01"})
        clinic.run(immunizations.give, {"patient_id": late.patient_id, "vaccine": HEPB, "lot": "L",
                                        "occurred": (TODAY - timedelta(days=200)).isoformat()})
        soon = clinic.register({"given_name": "Yara", "family_name": "Saleh", "sex": "female", "birth_date": "1990-01-01"})
        clinic.run(immunizations.give, {"patient_id": soon.patient_id, "vaccine": HEPB, "lot": "L",
                                        "occurred": (TODAY - timedelta(days=31)).isoformat()})
    await seed(home, build)
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        app.action_due_list()
        await until(pilot, lambda: screen(app) == "DueListScreen" and app.screen.loaded)
        assert [(row.name, row.state) for row in app.screen.rows] == [("Zaid Khalil", "overdue"), ("Yara Saleh", "due")]
        rows = drawn_rows(app)
        zaid = next(row for row in rows if "Zaid Khalil" in row)
        assert "Hepatitis B 2" in zaid and "overdue" in zaid and digits(str(app.screen.rows[0].days_overdue)) in zaid
        assert "Overdue 1 · due 1" in drawn(app)
        await pilot.press("enter")
        await until(pilot, lambda: screen(app) == "ChartScreen" and app.screen.record is not None)
        assert "Zaid" in text(app, "#demographics")
        await until(pilot, lambda: "overdue" in text(app, "#vaccinations"))
        app.pop_screen()
        await until(pilot, lambda: screen(app) == "DueListScreen")
        await pilot.press("down")
        await until(pilot, lambda: not any(worker.is_running for worker in app.workers))  # read again on return
        await pilot.press("f3")
        await until(pilot, lambda: screen(app) == "CardScreen" and app.screen.card is not None)
        assert "Yara Saleh" in text(app, "#card-title")


@pytest.mark.parametrize("language", ["ar", "fa", "vi", "fr", "en"])
async def test_the_vaccination_screens_fit_in_80_columns(home, language):
    await seed(home, lots)
    await asyncio.to_thread(Keystore(home.keystore).set_language, "amina", language)
    app = FieldkitApp(home)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await sign_in(pilot)
            await open_chart(pilot, "فاطمة")
            i18n.set_language(language)
            await until(pilot, lambda: _("No vaccination recorded (F10 records one)") in text(app, "#vaccinations"))
            await open_form(pilot)
            await choose(pilot, "#vaccine", _("Hepatitis B vaccine (adult)"))
            await until(pilot, lambda: _("Hepatitis B") in text(app, "#dose-number"))
            await all_drawn(pilot, [_("Vaccine"), _("Dose"), _("Lot"), _("Site"), _("Route"), _("Save"), _("Back"),
                                    _("Lock")])
            app.pop_screen()
            app.screen.action_card()
            await until(pilot, lambda: screen(app) == "CardScreen" and app.screen.card is not None)
            await all_drawn(pilot, [_("Vaccinate"), _("Entered in error"), _("Back"), _("Lock")])
            app.pop_screen()
            app.action_due_list()
            await until(pilot, lambda: screen(app) == "DueListScreen" and app.screen.loaded)
            await all_drawn(pilot, [_("Schedule"), _("Patient"), _("Due"), _("Late"), _("State"), _("Card"), _("Lock")])
    finally:
        i18n.set_language("en")
