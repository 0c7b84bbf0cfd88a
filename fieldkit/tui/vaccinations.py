"""A person's vaccinations as the clinic reads them, and who is due.

The card (Enter on the chart's vaccinations, or F3 on the due list) shows each schedule the person
holds a dose of or is of the age for: every dose of each series, given (here or elsewhere, with its
lot and any flag it keeps, such as "below minimum interval", and the reason it was given so), or
due, overdue, too early, not due yet with its dates; the immunity its test shows (immune, repeat
series, non-responder) with the evidence read; and the records that are not doses (not given and
why, entered in error). F4 marks the dose under the cursor entered in error, with a reason; F10
records a dose. Every state is derived by records/schedules from the doses as given, never typed.

The due list (palette: "Vaccinations due") is a schedule's people due or overdue a dose or a test,
the most overdue first, a page at a time; Enter opens the person's chart.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Footer, Label, Select, Static

from fieldkit.i18n import N_, _, day, digits, ngettext, number
from fieldkit.permissions import Write, may_write
from fieldkit.records.immunity import NOT_VACCINATED, SCHEDULE, TEST_DUE
from fieldkit.records.immunizations import ENTERED_IN_ERROR, GIVEN, HISTORICAL, NOT_GIVEN, NOT_GIVEN_REASONS
from fieldkit.records.schedules import (
    COMPLETE,
    DUE,
    NOT_DUE_YET,
    OVERDUE,
    TOO_EARLY,
    DoseState,
    next_doses,
    series_of,
)
from fieldkit.tui.ask import Ask
from fieldkit.tui.base import ReadingScreen, background
from fieldkit.tui.commands import ScreenActions
from fieldkit.tui.home import clip
from fieldkit.tui.messages import OpenChart
from fieldkit.tui.picker import Picker
from fieldkit.tui.status import StatusBar

Item = dict[str, Any]  # {"record": an immunization row or None, "state": a dose's state or None}
PAGE_ROWS = 100  # of the due list: a directorate's 4,000 staff are read a page at a time


def when(occurred: str) -> str:
    """A dose's date as stored: a day, or the month or year remembered of a dose given elsewhere."""
    return day(occurred) if len(occurred) == 10 else digits(occurred)


def reason_text(reason: str) -> str:
    code, _sep, said = (reason or "").partition(": ")
    word = _(NOT_GIVEN_REASONS[code]) if code in NOT_GIVEN_REASONS else reason
    return f"{word}: {said}" if said and code in NOT_GIVEN_REASONS else word


def vaccine_name(vaccines: dict[str, Any], code: str) -> str:
    return _(vaccines[code].name) if code in vaccines else code


def record_text(record: dict[str, Any]) -> str:
    """What one immunization record says, in words: given here or elsewhere, not given and why,
    entered in error and why; with the reasons a dose given early or from an expired lot keeps."""
    status, on = record["status"], when(record["occurred"])
    if status == GIVEN:
        text = _("given {day}").format(day=on)
        if record.get("lot"):
            text += " · " + _("lot {lot}").format(lot=record["lot"])
        if record.get("reason"):
            text += " · " + _("expired lot: {reason}").format(reason=record["reason"])
    elif status == HISTORICAL and not record.get("primary_source"):
        text = _("given elsewhere {day}").format(day=on)
    elif status == HISTORICAL:
        text = _("not given {day}, given later").format(day=on)
    elif status == NOT_GIVEN:
        text = _("not given {day}: {reason}").format(day=on, reason=reason_text(record.get("reason") or ""))
    else:
        text = _("[ENTERED IN ERROR] {day}: {reason}").format(day=on, reason=record.get("reason") or "")
    if record.get("early_reason"):
        text += " · " + _("given early: {reason}").format(reason=record["early_reason"])
    return text


def pending_text(state: dict[str, Any]) -> str:
    """A dose not given yet: when it is due, or since when it is overdue, or from when it may be given."""
    kind = state["state"]
    if kind == DUE:
        return _("due {day}").format(day=day(state["due"])) if state.get("due") else _("due now")
    if kind == OVERDUE:
        late = state.get("days_overdue") or 0
        return ngettext("overdue since {day} ({n} day)", "overdue since {day} ({n} days)", late).format(
            day=day(state["due"]), n=number(late))
    if kind == TOO_EARLY:
        return _("too early: not before {day}").format(day=day(state["earliest"]))
    if kind == NOT_DUE_YET:
        return _("not due yet: due {day}").format(day=day(state["due"]))
    return _(kind)


def dose_name(series_name: str, number_: int | None, round_: int) -> str:
    """"Hepatitis B 2", and "(series 2)" after it in a series given again after a failed test."""
    name = f"{_(series_name)} {digits(str(number_ or '?'))}"
    return name if round_ == 1 else f"{name} " + _("(series {n})").format(n=number(round_))


def dose_line(state: dict[str, Any], record: dict[str, Any] | None) -> str:
    head = dose_name(state["series_name"], state["number"], state["round"]) + ": "
    text = record_text(record) if record else (
        _("given {day}").format(day=day(state["given"])) if state["state"] == COMPLETE else pending_text(state))
    flags = "".join(f" [{_(flag)}]" for flag in state.get("flags") or ())
    if state.get("recorded_number"):
        flags += " " + _("[recorded as dose {n}]").format(n=number(state["recorded_number"]))
    return head + text + flags


def immunity_line(status: dict[str, Any], names: dict[str, str]) -> str:
    line = _("Immunity ({series}): {state}").format(series=_(names.get(status["series"], status["series"])),
                                                   state=_(status["state"]))
    if status["state"] == TEST_DUE and status.get("test_due"):
        line += " · " + _("test due {day}, from {first}").format(day=day(status["test_due"]),
                                                                first=day(status["test_from"]))
    if status.get("task"):
        line += " · " + _(status["task"])
    return line


def card_items(card: dict[str, Any], vaccines: dict[str, Any], *, full: bool) -> list[tuple[str, Item]]:
    """The card as lines, each with what it stands for. `full` (the card screen): every dose of every
    series, the evidence of immunity, the schedule names. Otherwise (the chart): the doses held and
    the next of each series begun or due, and the immunity once there is any to say. A record that
    is not a dose (not given, entered in error) is listed under its series; one no schedule shown
    names, at the end."""
    records = {record["id"]: record for record in card["records"]}
    doses_held = {state["dose_id"] for shown in card["schedules"] for state in shown["doses"] if state["dose_id"]}
    waiting = [record for record in card["records"] if record["id"] not in doses_held]
    items: list[tuple[str, Item]] = []
    for shown in card["schedules"]:
        lines: list[tuple[str, Item]] = []
        by_series: dict[str, list[dict[str, Any]]] = {}
        for state in shown["doses"]:
            by_series.setdefault(state["series"], []).append(state)
        schedule_id = shown["schedule"].split("@")[0]
        for series, states in by_series.items():
            coming = {id(state) for state in _next(states)}
            begun = any(state["state"] == COMPLETE for state in states)
            # Each line with its place: a record that is not a dose comes after the dose it stood for.
            placed: list[tuple[tuple[int, int, int], str, Item]] = []
            for state in states:
                record = records.get(state["dose_id"] or "")
                if full or state["state"] == COMPLETE or (id(state) in coming and (begun or state["state"] in (DUE, OVERDUE))):
                    placed.append(((state["round"], state["number"], 0), dose_line(state, record),
                                   {"record": record, "state": state}))
            mine = [record for record in waiting if (schedule_id, series) in
                    {(found.id, named.id) for found, named in series_of(record["vaccine"])}]
            waiting = [record for record in waiting if record not in mine]
            for record in mine:
                where = (record["series"] or 1, record["dose_number"] or 0, 1)
                placed.append((where, dose_name(states[0]["series_name"], record["dose_number"], where[0]) + ": "
                               + record_text(record), {"record": record, "state": None}))
            lines += [(line, item) for _where, line, item in sorted(placed, key=lambda found: found[0])]
        names = {state["series"]: state["series_name"] for state in shown["doses"]}
        for status in shown["immunity"]:
            if full or status["state"] != NOT_VACCINATED:
                lines.append((immunity_line(status, names), {"record": None, "state": None}))
                if full:
                    lines += [(f"    {line}", {"record": None, "state": None}) for line in status["evidence"]]
        if full:
            items.append((_(shown["name"]), {"record": None, "state": None}))
            lines = [(f"  {line}", item) for line, item in lines]
        items += lines
    if waiting and full:
        items.append((_("Other records"), {"record": None, "state": None}))
    items += [(("  " if full else "") + f"{vaccine_name(vaccines, record['vaccine'])}: {record_text(record)}",
               {"record": record, "state": None}) for record in waiting]
    return items


def _next(states: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The dose a nurse gives next in this series (records/schedules.next_doses)."""
    chosen = next_doses([DoseState(**state) for state in states])
    return [state for state in states for found in chosen
            if (state["round"], state["number"]) == (found.round, found.number)]


ACTIONS = (
    (N_("Vaccinate"), N_("a dose given, not given or given elsewhere (F10)"), "vaccinate"),
    (N_("Entered in error"), N_("the dose under the cursor was never given; it stays, marked (F4)"), "in_error"),
)


class CardActions(ScreenActions):
    ACTIONS = ACTIONS


class CardScreen(ReadingScreen):
    COMMANDS = {CardActions}
    DEFAULT_CSS = """
    #card { height: 1fr; padding: 0 1; }
    """
    BINDINGS = [
        Binding("f10", "vaccinate", N_("Vaccinate"), id="card-vaccinate"),
        Binding("f4", "in_error", N_("Entered in error"), id="dose-in-error"),
        Binding("escape", "app.pop_screen", N_("Back"), id="back"),
        Binding("f12", "app.lock", N_("Lock"), id="lock"),
    ]

    def __init__(self, patient_id: str) -> None:
        super().__init__()
        self.patient_id = patient_id
        self.card: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Static(_("opening…"), id="card-title", classes="title", markup=False)
        with VerticalScroll(id="card"):
            yield Picker[Item](id="doses")
        yield Footer()

    @background(exclusive=True)
    async def load(self) -> None:
        vaccines = await self.desk.vaccines()
        self.card = card = await self.desk.vaccination_card(self.patient_id)
        born = day(card["birth_date"]) if card.get("birth_date") else _("unknown")
        self.query_one("#card-title", Static).update(_("Vaccinations of {name} (born {born})").format(
            name=card["name"], born=born))
        doses = self.query_one("#doses", Picker)
        doses.show(card_items(card, vaccines, full=True), _("No schedule applies yet and no dose is recorded."))
        doses.focus()
        self.refresh_bindings()

    def chosen(self) -> dict[str, Any] | None:
        item = self.query_one("#doses", Picker).chosen
        return item["record"] if item else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        role = self.desk.user.role
        if action == "vaccinate":
            return self.card is not None and role in may_write(Write("immunization", "create"))
        if action == "in_error":
            return self.card is not None and role in may_write(Write("immunization", "update"))
        return True

    def action_vaccinate(self) -> None:
        from fieldkit.tui.vaccinate import VaccinateForm

        if self.card is not None:
            self.app.push_screen(VaccinateForm(self.patient_id, self.card["name"]))

    def action_in_error(self) -> None:
        record = self.chosen()
        if record is None or record["status"] == ENTERED_IN_ERROR:
            self.notify(_("Up and Down to a dose recorded (given, not given or given elsewhere), then F4."))
            return

        async def mark(reason: str) -> None:
            await self.desk.dose_in_error(record["id"], reason)

        self.app.push_screen(Ask(_("Why was this dose entered in error? (required; it stays on the card, marked, "
                                   "and leaves the due dates)"), mark), callback=self._marked)

    def _marked(self, saved: bool | None) -> None:
        if saved:
            self.notify(_("Saved."))


class DueListScreen(ReadingScreen):
    """Who is due or overdue under a schedule, the most overdue first; Enter opens the chart."""

    DEFAULT_CSS = """
    #due-choice { height: 1; padding: 0 1; }
    #due-choice Label { width: 10; }
    #due-choice Select { width: 44; }
    #due-title { height: auto; }
    #due-list { height: 1fr; }
    """
    BINDINGS = [
        Binding("f3", "card", N_("Card"), id="due-card"),
        Binding("pagedown", "page(1)", N_("Next page"), id="due-next-page", show=False, priority=True),
        Binding("pageup", "page(-1)", N_("Previous page"), id="due-previous-page", show=False, priority=True),
        Binding("escape", "app.pop_screen", N_("Back"), id="back"),
        Binding("f12", "app.lock", N_("Lock"), id="lock"),
    ]

    def __init__(self, schedule_id: str = SCHEDULE) -> None:
        super().__init__()
        self.schedule_id = schedule_id
        self.rows: list[Any] = []
        self.page = 0
        self.names: dict[str, str] = {}  # series id -> name, of the schedule shown
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with Horizontal(id="due-choice"):
            yield Label(_("Schedule"))
            yield Select([], id="schedule", prompt=_("choose a schedule"), compact=True)
        yield Static(_("opening…"), id="due-title", classes="title")
        yield DataTable(id="due-list", cursor_type="row", zebra_stripes=True)
        yield Footer()

    @background(exclusive=True)
    async def load(self) -> None:
        found = await self.desk.schedules()
        chooser = self.query_one("#schedule", Select)
        if not self.loaded:
            with chooser.prevent(Select.Changed):
                chooser.set_options((_(schedule.name), key) for key, schedule in found.items())
                chooser.value = self.schedule_id if self.schedule_id in found else next(iter(found))
            self.schedule_id = str(chooser.value)
        chosen = found[self.schedule_id]
        self.names = {series.id: series.name for series in chosen.series}
        self.rows = await self.desk.due_list(self.schedule_id)
        self.loaded = True
        self.show()

    @on(Select.Changed, "#schedule")
    def chosen(self, event: Select.Changed) -> None:
        if self.loaded and isinstance(event.value, str) and event.value != self.schedule_id:
            self.schedule_id, self.page = event.value, 0
            self.query_one("#due-list", DataTable).move_cursor(row=0)
            self.load()

    def show(self) -> None:
        overdue = sum(1 for row in self.rows if row.state == OVERDUE)
        first = self.page * PAGE_ROWS
        page = self.rows[first:first + PAGE_ROWS]
        title = _("Overdue {overdue} · due {due}").format(overdue=number(overdue), due=number(len(self.rows) - overdue))
        if len(self.rows) > PAGE_ROWS:
            title += " · " + _("{first}–{last} (PgDn, PgUp)").format(first=number(first + 1),
                                                                     last=number(first + len(page)))
        title += " · " + _("Enter: the chart")
        self.query_one("#due-title", Static).update(title if self.rows else _("Nobody is due a dose or a test."))
        table = self.query_one("#due-list", DataTable)
        cursor = table.cursor_row  # read again when back from a chart: the cursor stays on its row
        table.clear(columns=True)
        for label, width in ((_("Patient"), 22), (_("Dose"), 16), (_("Due"), 12), (_("Late"), 5), (_("State"), 10)):
            table.add_column(clip(label, width), width=width)
        for row in page:
            table.add_row(Text(clip(row.name, 22)), Text(clip(self.dose(row), 16)), day(row.due) if row.due else _("now"),
                          number(row.days_overdue) if row.days_overdue else "", clip(_(row.state), 10))
        if page:
            table.move_cursor(row=min(max(cursor, 0), len(page) - 1))
        table.focus()

    def dose(self, row: Any) -> str:
        name = _(self.names.get(row.series, row.series))
        if row.dose is None:
            return _("{series} test").format(series=name)
        return f"{name} {digits(str(row.dose))}"

    def chosen_row(self) -> Any:
        index = self.page * PAGE_ROWS + self.query_one("#due-list", DataTable).cursor_row
        return self.rows[index] if self.rows and 0 <= index < len(self.rows) else None

    @on(DataTable.RowSelected, "#due-list")
    def open_chart(self) -> None:
        row = self.chosen_row()
        if row is not None:
            self.post_message(OpenChart(row.patient_id))

    def action_card(self) -> None:
        row = self.chosen_row()
        if row is not None:
            self.app.push_screen(CardScreen(row.patient_id))

    def action_page(self, step: int) -> None:
        last = max((len(self.rows) - 1) // PAGE_ROWS, 0)
        if 0 <= self.page + step <= last:
            self.page += step
            self.query_one("#due-list", DataTable).move_cursor(row=0)
            self.show()
