"""A patient in a programme: enrolling from the chart, and one enrolment with its check-ins and
what can be done with it (pause while in hospital, resume, complete with an outcome, cancel with a
reason, check in).

The enrol form asks for the programme first, then that programme's own attributes: a chooser
where the programme fixes the choices, a typed field otherwise. A refusal (a second active
enrolment where the programme allows one, a missing attribute) is one line under the form, in the
user's language, and nothing is saved. Closing asks for the outcome from the programme's list;
closing without one is refused the same way.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical, VerticalScroll
from textual.events import Key
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import DataTable, Footer, Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from fieldkit.errors import FieldkitError
from fieldkit.i18n import N_, _, day, digits, number
from fieldkit.permissions import allowed
from fieldkit.records.alerts import SYMPTOMS
from fieldkit.records.programmes import Programme
from fieldkit.text import ascii_digits
from fieldkit.tui.ask import Ask
from fieldkit.tui.base import ClinicScreen, ReadingScreen, Translated, background
from fieldkit.tui.home import clip
from fieldkit.tui.programmes import attribute_value, level_text, outcome_label, status_word
from fieldkit.tui.status import StatusBar

CHECK_IN, PAUSE, RESUME, COMPLETE, CANCEL = "check_in", "paused", "active", "completed", "cancelled"
# Each action as offered, in order; which are offered follows the enrolment's status (enrolments.MOVES).
ACTIONS = {CHECK_IN: N_("Check in now"), PAUSE: N_("Pause: admitted to hospital"), RESUME: N_("Resume: back home"),
           COMPLETE: N_("Complete, with an outcome…"), CANCEL: N_("Cancel (enrolled by mistake), with a reason…")}
OFFERED = {"active": (CHECK_IN, PAUSE, COMPLETE, CANCEL), "paused": (RESUME, COMPLETE, CANCEL)}


def today_typed() -> str:
    return digits(f"{date.today():%d/%m/%Y}")


def enrolment_line(enrolment: dict[str, Any], programmes: dict[str, Programme]) -> str:
    """One enrolment as the chart lists it: programme, status, since when."""
    programme = programmes.get(enrolment["programme"])
    name = _(programme.name) if programme else enrolment["programme"]
    line = _("{programme}: {status}, enrolled {day}").format(
        programme=name, status=status_word(enrolment["status"]), day=day(enrolment["enrolled_on"]))
    if enrolment.get("outcome"):
        line += f" ({outcome_label(programme, enrolment['outcome'])})"
    return line


class EnrolForm(ClinicScreen):
    DEFAULT_CSS = """
    #enrol-form { height: 1fr; padding: 0 1; }
    .enrol-fields { grid-size: 2; grid-columns: 30 1fr; grid-rows: auto; grid-gutter: 0 1; height: auto; }
    .enrol-fields Label { width: 100%; }
    .enrol-fields Select { width: 36; }
    #enrolled_on { width: 14; }
    #enrol-error { width: 100%; height: auto; }
    """
    BINDINGS = [
        Binding("f2", "save", N_("Save"), id="save", priority=True),
        Binding("escape", "app.pop_screen", N_("Back (not saved)"), id="back"),
        Binding("f12", "app.lock", N_("Lock"), id="lock"),
    ]

    def __init__(self, patient_id: str, patient_name: str) -> None:
        super().__init__()
        self.patient_id, self.patient_name = patient_id, patient_name
        self.programmes: dict[str, Programme] = {}

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with VerticalScroll(id="enrol-form"):
            yield Static(_("Enrol {patient} in a programme").format(patient=self.patient_name), classes="title")
            with Grid(classes="enrol-fields"):
                yield Label(_("Programme"))
                yield Select([], id="programme", prompt=_("choose a programme"), compact=True)
            yield Grid(id="enrol-attributes", classes="enrol-fields")
            with Grid(classes="enrol-fields"):
                yield Label(_("Enrolled on"))
                yield Input(today_typed(), id="enrolled_on", compact=True)
                yield Label(_("Team"))
                yield Input(id="team", compact=True)
        yield Label("", id="enrol-error", classes="error")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#programme").focus()
        self.load()

    @background(group="programmes")
    async def load(self) -> None:
        self.programmes = await self.desk.programmes()
        self.query_one("#programme", Select).set_options(
            (_(programme.name), key) for key, programme in self.programmes.items())

    @on(Select.Changed, "#programme")
    async def chosen(self, event: Select.Changed) -> None:
        box = self.query_one("#enrol-attributes", Grid)
        await box.remove_children()
        programme = self.programmes.get(event.value) if isinstance(event.value, str) else None
        fields: list[Widget] = []
        for attribute in programme.attributes if programme else ():
            label = _(attribute.label) + ("" if attribute.required else " " + _("(optional)"))
            fields.append(Label(label))
            if attribute.choices:
                fields.append(Select([(_(choice), choice) for choice in attribute.choices], id=f"attr-{attribute.name}",
                                     prompt=_("choose"), compact=True))
            else:
                fields.append(Input(id=f"attr-{attribute.name}", compact=True))
        if fields:
            await box.mount(*fields)
        self._error("")

    def data(self) -> dict[str, Any]:
        chosen = self.query_one("#programme", Select).value
        programme = self.programmes.get(chosen) if isinstance(chosen, str) else None
        attributes = {}
        for attribute in programme.attributes if programme else ():
            value = self.query_one(f"#attr-{attribute.name}").value  # type: ignore[attr-defined]
            attributes[attribute.name] = value if isinstance(value, str) else ""
        return {"patient_id": self.patient_id, "programme": chosen if isinstance(chosen, str) else "",
                "attributes": attributes, "enrolled_on": self.query_one("#enrolled_on", Input).value,
                "team": self.query_one("#team", Input).value}

    def _error(self, line: str) -> None:
        self.query_one("#enrol-error", Label).update(line)

    def action_save(self) -> None:
        data = self.data()
        if not data["programme"]:
            self._error(_("Choose a programme."))
            self.query_one("#programme").focus()
            return
        self.save(data)

    @background(exclusive=True, group="save")
    async def save(self, data: dict[str, Any]) -> None:
        try:
            await self.desk.enrol(data)
        except FieldkitError as exc:
            self._error(_(str(exc)))
            return
        self.notify(_("Enrolled in {programme}.").format(programme=_(self.programmes[data["programme"]].name)))
        self.dismiss()


class EnrolmentScreen(ReadingScreen):
    """One enrolment: who, which programme, where it stands, its check-ins, and its actions."""

    DEFAULT_CSS = """
    #enrolment-head { height: auto; padding: 0 1; }
    #enrolment-actions { height: auto; max-height: 4; margin: 0 1; border: none; }
    #enrolment-checkins { height: 1fr; }
    #enrolment-error { width: 100%; height: auto; }
    """
    BINDINGS = [
        Binding("escape", "app.pop_screen", N_("Back"), id="back"),
        Binding("f12", "app.lock", N_("Lock"), id="lock"),
    ]

    def __init__(self, enrolment_id: str) -> None:
        super().__init__()
        self.enrolment_id = enrolment_id
        self.enrolment: dict[str, Any] | None = None
        self.programme: Programme | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Static(_("opening…"), id="enrolment-head")
        yield OptionList(id="enrolment-actions")
        yield Static(_("Check-ins"), classes="title")
        yield DataTable(id="enrolment-checkins", cursor_type="row", zebra_stripes=True)
        yield Label("", id="enrolment-error", classes="error")
        yield Footer()

    @background(exclusive=True)
    async def load(self) -> None:
        enrolment = self.enrolment = await self.desk.enrolment(self.enrolment_id)
        self.programme = programme = (await self.desk.programmes()).get(enrolment["programme"])
        checkins = await self.desk.checkins_of(self.enrolment_id)
        name = _(programme.name) if programme else enrolment["programme"]
        lines = [_("{patient} · {programme}").format(patient=enrolment["patient_name"], programme=name),
                 _("{status} · enrolled {day}").format(status=status_word(enrolment["status"]),
                                                       day=day(enrolment["enrolled_on"]))]
        if enrolment.get("outcome"):
            lines[-1] += " · " + _("outcome: {outcome}, {day}").format(
                outcome=outcome_label(programme, enrolment["outcome"]), day=day(enrolment["outcome_date"]))
        if enrolment.get("team"):
            lines[-1] += " · " + _("team {team}").format(team=enrolment["team"])
        if programme and enrolment["attributes"]:
            labels = {a.name: _(a.label) for a in programme.attributes}
            lines.append(" · ".join(f"{labels.get(key, key)}: {attribute_value(programme, key, value)}"
                                    for key, value in enrolment["attributes"].items()))
        self.query_one("#enrolment-head", Static).update("\n".join(lines))
        actions = self.query_one("#enrolment-actions", OptionList)
        actions.clear_options()
        offered = [a for a in OFFERED.get(enrolment["status"], ())
                   if a != CHECK_IN or (programme is not None and programme.checkin is not None)]
        actions.add_options([Option(f"{digits(str(n))}  {_(ACTIONS[a])}", id=a) for n, a in enumerate(offered, 1)]
                            or [Option(_("Closed: nothing more to do."), id="none", disabled=True)])
        actions.highlighted = 0 if offered else None
        self._checkins(checkins)
        actions.focus()

    def _checkins(self, checkins: list[dict[str, Any]]) -> None:
        table = self.query_one("#enrolment-checkins", DataTable)
        table.clear(columns=True)
        for label, width in ((_("Day"), 12), (_("Risk"), 6), ("SpO2", 4), (_("RR"), 3), (_("Pulse"), 5), ("°C", 4),
                             (_("Symptoms"), 26)):
            table.add_column(clip(label, width), width=width)
        for c in checkins:
            def shown(name: str, c: dict[str, Any] = c) -> str:
                value = c.get(name)
                return "" if value is None else number(value, 1 if name == "temperature_c" else 0)
            symptoms = ", ".join(_(SYMPTOMS[code]) for code in c.get("symptoms") or () if code in SYMPTOMS)
            table.add_row(day(c["day"]), level_text(c["alert_level"]), shown("spo2"), shown("resp_rate"),
                          shown("pulse"), shown("temperature_c"), clip(symptoms, 26))
        if not checkins:
            table.add_row(_("No check-in yet"), "", "", "", "", "", "")

    def on_key(self, event: Key) -> None:
        if not event.character or self.focused is not self.query_one("#enrolment-actions"):
            return
        typed = ascii_digits(event.character)
        actions = self.query_one("#enrolment-actions", OptionList)
        if typed.isdigit() and 1 <= int(typed) <= actions.option_count:
            event.stop()
            option = actions.get_option_at_index(int(typed) - 1)
            if not option.disabled:
                self.act(option.id or "")

    @on(OptionList.OptionSelected, "#enrolment-actions")
    def selected(self, event: OptionList.OptionSelected) -> None:
        self.act(event.option.id or "")

    def act(self, action: str) -> None:
        enrolment, programme = self.enrolment, self.programme
        if enrolment is None:
            return
        if action == CHECK_IN:
            if not allowed(self.desk.user.role, "record check-ins"):
                self.notify(_("Only a clinician or a supervisor records check-ins."), severity="warning")
                return
            from fieldkit.tui.checkin import CheckinScreen

            self.app.push_screen(CheckinScreen(self.enrolment_id, enrolment["patient_name"], enrolment["programme"]))
        elif action in (PAUSE, RESUME):
            self.move(action)
        elif action == COMPLETE and programme is not None:
            self.app.push_screen(CloseForm(self.enrolment_id, programme))
        elif action == CANCEL:
            self.app.push_screen(Ask(_("Why is this enrolment cancelled?"), self._cancel,
                                     placeholder=_("for example: enrolled by mistake, wrong patient")),
                                 callback=self._cancelled)

    @background(exclusive=True, group="move")
    async def move(self, status: str) -> None:
        try:
            await self.desk.move_enrolment(self.enrolment_id, status)
        except FieldkitError as exc:
            self.query_one("#enrolment-error", Label).update(_(str(exc)))
            return
        self.notify(_("Now {status}.").format(status=status_word(status)))
        self.load()

    async def _cancel(self, reason: str) -> None:
        await self.desk.move_enrolment(self.enrolment_id, CANCEL, reason=reason)

    def _cancelled(self, saved: bool | None) -> None:
        if saved:
            self.notify(_("Now {status}.").format(status=status_word(CANCEL)))


class CloseForm(Translated, ModalScreen[bool]):
    """Completing an enrolment: its outcome, from the programme's own list, and the day."""

    DEFAULT_CSS = """
    CloseForm { align: center middle; }
    #close { width: 72; max-width: 100%; height: auto; border: round $primary; padding: 0 1; background: $surface; }
    #close-fields { grid-size: 2; grid-columns: 16 1fr; grid-rows: 1; grid-gutter: 0 1; height: auto; margin: 1 0 0 0; }
    #close-on { width: 14; }
    #close-error { width: 100%; height: auto; }
    """
    BINDINGS = [
        Binding("f2", "save", N_("Save"), id="save", priority=True),
        Binding("escape", "dismiss(False)", N_("Cancel"), id="cancel"),
        Binding("f12", "app.lock", N_("Lock"), id="lock"),
    ]

    def __init__(self, enrolment_id: str, programme: Programme) -> None:
        super().__init__()
        self.enrolment_id, self.programme = enrolment_id, programme

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with Vertical(id="close"):
            yield Static(_("Complete this enrolment in {programme}").format(programme=_(self.programme.name)),
                         classes="title")
            with Grid(id="close-fields"):
                yield Label(_("Outcome"))
                yield Select([(_(o.label), o.code) for o in self.programme.outcomes], id="outcome",
                             prompt=_("choose the outcome"), compact=True)
                yield Label(_("On"))
                yield Input(today_typed(), id="close-on", compact=True)
            yield Label("", id="close-error", classes="error")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#outcome").focus()

    def action_save(self) -> None:
        self.save()

    @background(exclusive=True)
    async def save(self) -> None:
        outcome = self.query_one("#outcome", Select).value
        try:
            await self.desk.move_enrolment(self.enrolment_id, COMPLETE, outcome=outcome if isinstance(outcome, str) else "",
                                           on=self.query_one("#close-on", Input).value)
        except (FieldkitError, ValueError) as exc:
            self.query_one("#close-error", Label).update(_(str(exc)))
            return
        self.notify(_("Completed: {outcome}.").format(outcome=outcome_label(self.programme, str(outcome))))
        self.dismiss(True)
