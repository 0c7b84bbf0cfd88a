"""A follow-up check-in, typed while on the phone: SpO2, respiratory rate, pulse, temperature,
symptoms, by phone, a note, and the day (today unless changed); F2 saves.

The form opens on SpO2 and Tab walks the readings in the order they are asked, so a typical
check-in is its numbers, three Tabs and F2: `9 7 Tab 1 8 Tab 8 2 Tab 3 6 . 8 F2` is 14 keys.
Symptoms follow the readings as one list: Space or the symptom's digit ticks one, and the mark
is a character, not only a colour. The alert the readings reach so far is shown as they are
typed; a reading outside what is possible is refused beside its field and in one line under the
form, with nothing saved. Arabic-Indic and Persian digits and the Arabic decimal separator are
read as typed.

Once saved, the level and its reasons are shown; a red one offers the escalation at once (a
transfer or a note on why the patient stays home). Leaving it for later is one key: the red
check-in waits in the worklist's escalations.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from rich.segment import Segment
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.events import Key
from textual.screen import ModalScreen
from textual.strip import Strip
from textual.widgets import Checkbox, Footer, Input, Label, OptionList, SelectionList, Static
from textual.widgets.option_list import Option

from fieldkit.errors import FieldkitError
from fieldkit.i18n import N_, _, digits
from fieldkit.records.alerts import SYMPTOMS, Ruleset, classify
from fieldkit.records.checkins import READINGS, CheckIn
from fieldkit.records.models import MEASURES, alarm, check_measure
from fieldkit.records.problems import check
from fieldkit.text import ascii_digits
from fieldkit.tui.base import ClinicScreen, Translated, background
from fieldkit.tui.encounter import Tick
from fieldkit.tui.programmes import level_text
from fieldkit.tui.status import StatusBar
from fieldkit.tui.words import unit

ESCALATE, LATER = "escalate", "later"


class Symptoms(SelectionList[str]):
    """The symptoms, numbered: a digit ticks its symptom; a ticked one shows X, an unticked one a blank."""

    DEFAULT_CSS = """
    Symptoms { border: none; padding: 0; height: auto; max-height: 9; background: $surface; }
    Symptoms:focus { border: none; }
    """

    def render_line(self, y: int) -> Strip:
        line = super().render_line(y)
        index = self.scroll_offset[1] + y
        if index >= self.option_count:
            return line
        ticked = self.get_option_at_index(index).value in self.selected
        segments = list(line)
        if len(segments) > 1:
            inner = segments[1]
            segments[1] = Segment("X" if ticked else " ", inner.style)
        return Strip(segments, line.cell_length)

    def on_key(self, event: Key) -> None:
        typed = ascii_digits(event.character or "")
        if typed.isdigit() and 1 <= int(typed) <= self.option_count:
            event.stop()
            self.highlighted = int(typed) - 1
            self.toggle(self.get_option_at_index(int(typed) - 1).value)


class CheckinScreen(ClinicScreen):
    DEFAULT_CSS = """
    #checkin-form { height: 1fr; padding: 0 1; }
    #checkin-readings { grid-size: 3; grid-columns: 26 9 1fr; grid-rows: 1; grid-gutter: 0 1; height: auto; }
    #checkin-readings .note { padding: 0; }
    #checkin-form .section { text-style: bold; margin: 0; }
    #checkin-more { grid-size: 2; grid-columns: 26 1fr; grid-rows: 1; grid-gutter: 0 1; height: auto; }
    #checkin-more Horizontal { height: 1; }
    Input.refused { background: $error 35%; text-style: bold; }
    #checkin-alert { height: auto; padding: 0 1; }
    #day { width: 14; }
    #checkin-error { width: 100%; height: auto; }
    """
    BINDINGS = [
        Binding("f2", "save", N_("Save"), id="save", priority=True),
        Binding("ctrl+s", "save", N_("Save"), id="save-ctrl", show=False, priority=True),
        Binding("escape", "app.pop_screen", N_("Back (not saved)"), id="back"),
        Binding("f12", "app.lock", N_("Lock"), id="lock"),
    ]

    def __init__(self, enrolment_id: str, patient_name: str, programme_id: str, plan_day: str = "") -> None:
        super().__init__()
        self.enrolment_id, self.patient_name, self.programme_id = enrolment_id, patient_name, programme_id
        self.plan_day = plan_day
        self.ruleset: Ruleset | None = None
        self.saved = False  # F2 again after saving would record the check-in twice

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with VerticalScroll(id="checkin-form"):
            title = _("Check-in: {patient}").format(patient=self.patient_name)
            if self.plan_day and self.plan_day != "–":
                title += " · " + _("day {n}").format(n=self.plan_day)
            yield Static(title, id="checkin-title", classes="title")
            with Grid(id="checkin-readings"):
                for name in READINGS:
                    measure = MEASURES[name]
                    yield Label(f"{_(measure.label)} ({unit(measure.unit)})")
                    yield Input(id=name, classes="reading", compact=True)
                    yield Label("", id=f"{name}-note", classes="note")
            yield Static(_("Symptoms (Space or the digit ticks one)"), classes="section")
            yield Symptoms(*((f"{digits(str(n))} {_(label)}", code) for n, (code, label) in
                             enumerate(SYMPTOMS.items(), start=1)), id="symptoms")
            with Grid(id="checkin-more"):
                yield Tick(_("by phone"), id="by_phone", compact=True)
                with Horizontal():
                    yield Label(_("Day") + " ")
                    yield Input(digits(f"{date.today():%d/%m/%Y}"), id="day", compact=True)
                yield Label(_("Note"))
                yield Input(id="note", compact=True)
        yield Static("", id="checkin-alert")
        yield Label("", id="checkin-error", classes="error")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#spo2").focus()
        self.load_rules()

    @background(group="rules")
    async def load_rules(self) -> None:
        self.ruleset = await self.desk.ruleset_of(self.programme_id)
        self.show_alert()

    # -- as it is typed ---------------------------------------------------------------------------

    def readings(self) -> dict[str, float]:
        """The readings typed so far that are possible; the others wait to be corrected."""
        found = {}
        for name in READINGS:
            text = self.query_one(f"#{name}", Input).value.strip()
            if text:
                try:
                    found[name] = check_measure(MEASURES[name], text)
                except ValueError:
                    pass
        return found

    def symptoms(self) -> list[str]:
        return list(self.query_one("#symptoms", Symptoms).selected)

    @on(Input.Changed, ".reading")
    @on(SelectionList.SelectedChanged)
    def show_alert(self) -> None:
        if self.ruleset is None:
            return
        alert = classify(self.ruleset, self.readings(), self.symptoms())
        reasons = ("  " + "; ".join(alert.reasons)) if alert.reasons else ""
        self.query_one("#checkin-alert", Static).update(
            Text.assemble(_("Alert so far:") + " ", level_text(alert.level), reasons))

    @on(Input.Blurred, ".reading")
    def check_reading(self, event: Input.Blurred) -> None:
        name, text = event.input.id or "", event.value.strip()
        if not text:
            self._note(name, "")
            return
        measure = MEASURES[name]
        try:
            value = check_measure(measure, text)
        except ValueError as exc:
            self._note(name, str(exc), refused=True)
            return
        self._note(name, alarm(measure, value) or "")

    def _note(self, name: str, text: str, refused: bool = False) -> None:
        self.query_one(f"#{name}-note", Label).update(text)
        self.query_one(f"#{name}", Input).set_class(refused, "refused")

    # -- saving -----------------------------------------------------------------------------------

    def data(self) -> dict[str, Any]:
        form = {name: self.query_one(f"#{name}", Input).value for name in (*READINGS, "day", "note")}
        return {"enrolment_id": self.enrolment_id, **form, "symptoms": self.symptoms(),
                "by_phone": self.query_one("#by_phone", Checkbox).value}

    def action_save(self) -> None:
        if self.saved:
            return
        data = self.data()
        _checked, found = check(CheckIn, data)
        if found:
            for problem in found:
                field = str(problem.where[0]) if problem.where else ""
                if field in READINGS:
                    self._note(field, problem.text, refused=True)
            more = len(found) - 1
            self._error(found[0].text + (" " + _("(and {n} more)").format(n=digits(str(more))) if more else ""))
            first = str(found[0].where[0]) if found[0].where else ""
            if self.query(f"#{first}"):
                self.query_one(f"#{first}").focus()
            return
        self.save(data)

    def _error(self, line: str) -> None:
        self.query_one("#checkin-error", Label).update(line)

    @background(exclusive=True, group="save")
    async def save(self, data: dict[str, Any]) -> None:
        try:
            checkin_id, level = await self.desk.check_in(data)
        except FieldkitError as exc:
            self._error(_(str(exc)))
            return
        self.saved = True
        self._error("")
        reasons = list(classify(self.ruleset, self.readings(), self.symptoms()).reasons) if self.ruleset else []
        escalation = {"id": checkin_id, "enrolment_id": self.enrolment_id, "patient_name": self.patient_name,
                      "day": CheckIn.model_validate(data).day.isoformat(), "reasons": reasons}
        self.app.push_screen(CheckinSaved(level, reasons), callback=lambda choice: self.after(choice, escalation))

    def after(self, choice: str | None, escalation: dict[str, Any]) -> None:
        if choice == ESCALATE:
            from fieldkit.tui.escalations import EscalationScreen

            self.app.switch_screen(EscalationScreen(escalation))
        else:
            self.dismiss()


class CheckinSaved(Translated, ModalScreen[str]):
    """The level a saved check-in reached and why; a red one offers the escalation at once."""

    DEFAULT_CSS = """
    CheckinSaved { align: center middle; }
    #checkin-saved { width: 74; max-width: 100%; height: auto; padding: 0 1; background: $surface;
                     border: round $primary; }
    #checkin-saved.red { border: thick $error; }
    #checkin-saved OptionList { height: auto; margin: 1 0 0 0; border: none; }
    """
    BINDINGS = [
        Binding("escape", "later", N_("Back to the list"), id="saved-back"),
        Binding("f12", "app.lock", N_("Lock"), id="lock"),
    ]

    def __init__(self, level: str, reasons: list[str]) -> None:
        super().__init__()
        self.level, self.reasons = level, reasons

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with Vertical(id="checkin-saved", classes=self.level):
            yield Static(Text.assemble(_("Saved. Alert level:") + " ", level_text(self.level)), id="saved-level",
                         classes="title")
            yield Static("\n".join(self.reasons) or _("No reading or symptom is amber or red."), id="saved-reasons")
            options = [Option(digits("1") + "  " + _("Escalate now: transfer, or keep at home noting why"),
                              id=ESCALATE),
                       Option(digits("2") + "  " + _("Later: it waits in the worklist's escalations"), id=LATER)]
            if self.level != "red":
                options = [Option(_("Back to the list"), id=LATER)]
            yield OptionList(*options, id="saved-choice")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#saved-choice", OptionList).highlighted = 0
        self.query_one("#saved-choice").focus()

    def action_later(self) -> None:
        self.dismiss(LATER)

    def on_key(self, event: Key) -> None:
        choice = {"1": ESCALATE, "2": LATER}.get(ascii_digits(event.character or ""))
        if choice and self.level == "red":
            event.stop()
            self.dismiss(choice)

    @on(OptionList.OptionSelected, "#saved-choice")
    def chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id or LATER)

