"""A dose recorded from the chart (F10) or the card: given here, not given (and why), or given
elsewhere (a month or a year is date enough); F2 saves.

The form offers the vaccines of the table, the day (today unless changed), the lots of the vaccine
chosen with their expiry (an expired lot stays choosable for an old record, marked), the site and
route (the vaccine's usual ones first). The dose number is shown as the series derives it, never
typed. When the service refuses a dose below its minimum interval or age, or from a lot expired on
the day given, its one line is shown and the reason is asked; F2 again saves it with the reason,
and the dose keeps its flag. Warnings of a saved dose (no lot) are said after saving.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Footer, Input, Label, Select, Static

from fieldkit.errors import FieldkitError
from fieldkit.i18n import N_, _, day, number
from fieldkit.records.dates import DateProblem, parse_day
from fieldkit.records.immunizations import GIVEN, HISTORICAL, NOT_GIVEN, NOT_GIVEN_REASONS
from fieldkit.records.schedules import DoseState, next_doses, series_of
from fieldkit.records.vaccines import ROUTES, SITES, Vaccine
from fieldkit.tui.base import ClinicScreen, background
from fieldkit.tui.enrolment import today_typed
from fieldkit.tui.status import StatusBar

MODES = ((GIVEN, N_("Given here")), (NOT_GIVEN, N_("Not given")), (HISTORICAL, N_("Given elsewhere (historical)")))
# The rows each mode asks for, besides the vaccine and the day.
ROWS = {GIVEN: ("lot", "site", "route"), NOT_GIVEN: ("why-not",), HISTORICAL: ("lot",)}
EARLY, EXPIRED = "early_reason", "expired_reason"


def lot_label(lot: dict[str, Any]) -> str:
    if lot["expired"]:
        return _("{lot} · EXPIRED {day}").format(lot=lot["lot"], day=day(lot["expiry"]))
    return _("{lot} · expires {day}").format(lot=lot["lot"], day=day(lot["expiry"]))


def next_dose(card: dict[str, Any] | None, vaccine: str) -> DoseState | None:
    """The dose of `vaccine` a person is given next, as their card derives it (None: no schedule
    of theirs names it yet)."""
    ids = {series.id for _schedule, series in series_of(vaccine)}
    for shown in (card or {}).get("schedules", ()):
        states = [DoseState(**state) for state in shown["doses"] if state["series"] in ids]
        if found := next_doses(states):
            return found[0]
    return None


def same_dose(data: dict[str, Any], saved: dict[str, Any]) -> bool:
    """Whether the form says again what was just saved (the reason it asked for aside)."""
    def kept(found: dict[str, Any]) -> dict[str, Any]:
        return {name: value for name, value in found.items() if name not in (EARLY, EXPIRED)}
    return kept(data) == kept(saved)


class VaccinateForm(ClinicScreen):
    DEFAULT_CSS = """
    #vaccinate-form { height: 1fr; padding: 0 1; }
    #vaccinate-form Horizontal { height: 1; }
    #vaccinate-form Label { width: 22; }
    #vaccinate-form Input, #vaccinate-form Select { width: 40; }
    #dose-number { width: 1fr; text-style: bold; }
    #vaccinate-error { width: 100%; height: auto; }
    #vaccinate-saved { height: auto; padding: 0 1; text-style: bold; }
    """
    BINDINGS = [
        Binding("f2", "save", N_("Save"), id="save", priority=True),
        Binding("escape", "app.pop_screen", N_("Back"), id="back"),
        Binding("f12", "app.lock", N_("Lock"), id="lock"),
    ]

    def __init__(self, patient_id: str, patient_name: str) -> None:
        super().__init__()
        self.patient_id, self.patient_name = patient_id, patient_name
        self.vaccines: dict[str, Vaccine] = {}
        self.lots: list[dict[str, Any]] = []
        self.card: dict[str, Any] | None = None
        self.needs: tuple[str, ...] = ()  # the reasons the service asked for: early_reason, expired_reason
        self.saved: dict[str, Any] | None = None  # what was saved last: F2 again on it would save it twice

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with VerticalScroll(id="vaccinate-form"):
            yield Static(_("Vaccination of {patient}").format(patient=self.patient_name), classes="title")
            with Horizontal():
                yield Label(_("Record"))
                yield Select([(_(label), mode) for mode, label in MODES], value=GIVEN, id="mode", allow_blank=False,
                             compact=True)
            with Horizontal():
                yield Label(_("Vaccine"))
                yield Select([], id="vaccine", prompt=_("choose a vaccine"), compact=True)
            with Horizontal():
                yield Label(_("Dose"))
                yield Static(_("counted from the series when the vaccine is chosen"), id="dose-number")
            with Horizontal():
                yield Label(_("Day"))
                yield Input(today_typed(), id="day", compact=True)
            with Horizontal(id="lot-row"):
                yield Label(_("Lot"))
                yield Select([], id="lot", prompt=_("no lot"), compact=True)
            with Horizontal(id="site-row"):
                yield Label(_("Site"))
                yield Select([(_(site), site) for site in SITES], id="site", prompt=_("as usual"), compact=True)
            with Horizontal(id="route-row"):
                yield Label(_("Route"))
                yield Select([(_(route), route) for route in ROUTES], id="route", prompt=_("as usual"), compact=True)
            with Horizontal(id="why-not-row"):
                yield Label(_("Why not given"))
                yield Select([(_(label), code) for code, label in NOT_GIVEN_REASONS.items()], id="why-not",
                             prompt=_("choose…"), compact=True)
            with Horizontal(id="other-row"):
                yield Label(_("Say why"))
                yield Input(id="other", compact=True)
            with Horizontal(id="reason-row"):
                yield Label("", id="reason-label")
                yield Input(id="reason", compact=True, placeholder=_("required, kept with the dose"))
        yield Label("", id="vaccinate-error", classes="error", markup=False)  # a refusal quotes what was typed
        yield Static("", id="vaccinate-saved", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.show_rows()
        self.query_one("#vaccine").focus()
        self.load()

    @background(group="vaccines")
    async def load(self) -> None:
        self.vaccines = await self.desk.vaccines()
        await self.desk.schedules()  # read off the loop: the dose number is derived from them
        self.card = await self.desk.vaccination_card(self.patient_id)
        self.query_one("#vaccine", Select).set_options((_(found.name), code) for code, found in self.vaccines.items())

    # -- as it is filled in -----------------------------------------------------------------------

    def mode(self) -> str:
        return str(self.query_one("#mode", Select).value)

    def show_rows(self) -> None:
        mode = self.mode()
        for row in ("lot", "site", "route", "why-not"):
            self.query_one(f"#{row}-row").display = row in ROWS[mode]
        self.query_one("#other-row").display = mode == NOT_GIVEN and self.query_one("#why-not", Select).value == "other"
        self.query_one("#reason-row").display = bool(self.needs) and mode == GIVEN
        self.query_one("#day", Input).placeholder = (_("a day, a month (05/2019) or a year") if mode == HISTORICAL
                                                     else _("day/month/year"))

    @on(Select.Changed, "#mode")
    @on(Select.Changed, "#why-not")
    def mode_changed(self) -> None:
        self.needs = ()
        self.show_rows()

    @on(Select.Changed, "#vaccine")
    def vaccine_changed(self, event: Select.Changed) -> None:
        chosen = self.vaccines.get(event.value) if isinstance(event.value, str) else None
        self.needs = ()
        if chosen is not None:
            for name, value in (("site", chosen.site), ("route", chosen.route)):
                field = self.query_one(f"#{name}", Select)
                if value:
                    field.value = value
                else:
                    field.clear()
            self.load_lots(chosen.code)
        self.show_rows()
        self.show_dose()

    @background(exclusive=True, group="lots")
    async def load_lots(self, vaccine: str) -> None:
        self.lots = await self.desk.vaccine_lots(vaccine)
        self.query_one("#lot", Select).set_options((Text(lot_label(lot)), lot["lot"]) for lot in self.lots)

    def chosen_vaccine(self) -> str:
        value = self.query_one("#vaccine", Select).value
        return value if isinstance(value, str) else ""

    def show_dose(self) -> None:
        code = self.chosen_vaccine()
        if not code:
            return
        found = next_dose(self.card, code)
        named = series_of(code)
        if found is None and named:  # no dose of it yet, nor of the age its schedule is for: its first
            text = _("dose {n} of {series}").format(n=number(1), series=_(named[0][1].name))
        elif found is None:
            text = _("counted when saved: no schedule names this vaccine")
        else:
            text = _("dose {n} of {series}").format(n=number(found.number), series=_(found.series_name))
            if found.round > 1:
                text += " " + _("(series {n})").format(n=number(found.round))
        self.query_one("#dose-number", Static).update(text)

    # -- saving -------------------------------------------------------------------------------------

    def typed_day(self) -> date | None:
        try:
            return parse_day(self.query_one("#day", Input).value)
        except DateProblem:
            return None

    def reasons_wanted(self) -> tuple[str, ...]:
        """Which reasons a dose given here on the typed day needs: given before the day its series
        allows (early_reason), or from a lot expired by then (expired_reason)."""
        on, code = self.typed_day(), self.chosen_vaccine()
        if on is None or not code:
            return ()
        wanted = []
        found = next_dose(self.card, code)
        if found is not None and found.earliest is not None and on < found.earliest:
            wanted.append(EARLY)
        lot = next((lot for lot in self.lots if lot["lot"] == self.query_one("#lot", Select).value), None)
        if lot is not None and date.fromisoformat(lot["expiry"]) < on:
            wanted.append(EXPIRED)
        return tuple(wanted)

    def data(self) -> dict[str, Any]:
        code = self.chosen_vaccine()
        if not code:
            raise FieldkitError(_("choose a vaccine"))
        mode = self.mode()
        data: dict[str, Any] = {"patient_id": self.patient_id, "vaccine": code,
                                "occurred": self.query_one("#day", Input).value}
        chosen = {name: self.query_one(f"#{name}", Select).value for name in ("lot", "site", "route", "why-not")}
        picked = {name: value for name, value in chosen.items() if isinstance(value, str)}
        if mode == GIVEN:
            data |= {name: picked[name] for name in ("lot", "site", "route") if name in picked}
            reason = self.query_one("#reason", Input).value.strip()
            data |= {name: reason for name in self.needs if reason}
        elif mode == HISTORICAL:
            data |= {"lot": picked["lot"]} if "lot" in picked else {}
        else:
            if "why-not" not in picked:
                raise FieldkitError(_("why was the dose not given? choose one of the reasons"))
            data |= {"reason": picked["why-not"], "reason_text": self.query_one("#other", Input).value}
        return data

    def said(self, line: str) -> None:
        self.query_one("#vaccinate-error", Label).update(line)

    def action_save(self) -> None:
        try:
            data = self.data()
        except FieldkitError as exc:
            self.said(str(exc))
            return
        if self.saved is not None and same_dose(data, self.saved):
            self.said(_("This dose is saved already: Esc goes back."))
            return
        self.save(self.mode(), data)

    @background(exclusive=True, group="save")
    async def save(self, mode: str, data: dict[str, Any]) -> None:
        try:
            given = await self.desk.vaccinate(mode, data)
        except FieldkitError as exc:
            self.said(_(str(exc)))
            self.ask_reason(mode, data)
            return
        self.saved, self.needs = data, ()
        self.said("")
        self.query_one("#reason", Input).value = ""
        self.show_rows()
        name = _(self.vaccines[data["vaccine"]].name)
        line = {GIVEN: _("Saved: dose {n} of {vaccine} given"), NOT_GIVEN: _("Saved: dose {n} of {vaccine} not given"),
                HISTORICAL: _("Saved: dose {n} of {vaccine}, given elsewhere")}[mode].format(
            n=number(given.dose_number), vaccine=name)
        notes = [*(f"[{_(flag)}]" for flag in given.flags), *given.warnings]
        self.query_one("#vaccinate-saved", Static).update("\n".join([line, *notes]))
        self.card = await self.desk.vaccination_card(self.patient_id)
        self.show_dose()

    def ask_reason(self, mode: str, data: dict[str, Any]) -> None:
        """A refusal a reason answers (early, expired lot): ask for it, beside the line said."""
        wanted = self.reasons_wanted() if mode == GIVEN else ()
        missing = [name for name in wanted if not data.get(name)]
        if not missing:
            return
        self.needs = tuple(wanted)
        self.query_one("#reason-label", Label).update(
            _("Why give it early") if wanted == (EARLY,) else _("Why this expired lot") if wanted == (EXPIRED,)
            else _("Why early, expired lot"))
        self.show_rows()
        self.query_one("#reason").focus()
