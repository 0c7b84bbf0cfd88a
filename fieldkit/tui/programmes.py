"""Programmes as a programme manager reads them: each programme with its enrolments by status, and
a programme's line list with counts grouped by status, outcome or any attribute.

Every count says what it counts (patients or enrolments) and its groups add up to the total
(records/registry.py). F5 writes the line list as CSV to the path the user types, and nowhere
else; an existing file is never overwritten. The words of programmes (statuses, outcomes, alert
levels) are here too, for the other programme screens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Label, Select, Static

from fieldkit.errors import FieldkitError
from fieldkit.i18n import N_, _, day, number
from fieldkit.records.alerts import LEVEL_LABELS
from fieldkit.records.programmes import Programme
from fieldkit.records.registry import ENROLMENT_COLUMNS, NOT_RECORDED, columns_of, counts, to_csv
from fieldkit.tui.ask import Ask
from fieldkit.tui.base import ClinicScreen, ReadingScreen, background
from fieldkit.tui.desk import off_loop
from fieldkit.tui.home import clip
from fieldkit.tui.status import StatusBar

STATUSES = {"active": N_("active"), "paused": N_("in hospital"), "completed": N_("completed"),
            "cancelled": N_("cancelled")}
UNITS = {"enrolments": N_("enrolments"), "patients": N_("patients")}
KINDS = {"cohort": N_("cohort"), "registry": N_("registry"), "mission": N_("mission")}
LEVEL_STYLES = {"red": "bold red", "amber": "bold yellow", "none": "dim"}


def status_word(status: str) -> str:
    return _(STATUSES[status]) if status in STATUSES else status


def outcome_label(programme: Programme | None, code: str) -> str:
    """An outcome code as the programme labels it, in the reader's language."""
    for outcome in programme.outcomes if programme else ():
        if outcome.code == code:
            return _(outcome.label)
    return code


def level_text(level: str, *, quiet: bool = False) -> Text:
    """An alert level as a word first, its colour only repeating it; '' (no check-in yet) is a dash.
    `quiet` lists leave "none" out, so the red and amber rows are the ones that read."""
    if level not in LEVEL_LABELS or (quiet and level == "none"):
        return Text("–" if level not in LEVEL_LABELS else "")
    return Text(_(LEVEL_LABELS[level]), style=LEVEL_STYLES[level])


def attribute_value(programme: Programme, name: str, value: str) -> str:
    """A stored attribute as shown: a fixed choice translated, a typed value as typed."""
    for attribute in programme.attributes:
        if attribute.name == name and value in attribute.choices:
            return _(value)
    return value


def write_csv(typed: str, text: str) -> Path:
    """The file the user named, created (a relative path is from where fieldkit was started): an
    existing file is never overwritten. Returns the file's full path."""
    path = Path(typed).expanduser().absolute()
    try:
        with path.open("x", encoding="utf-8", newline="") as out:
            out.write(text)
    except FileExistsError:
        raise FieldkitError(_("{path} exists already: type another name").format(path=path)) from None
    except FileNotFoundError:
        raise FieldkitError(_("there is no folder {folder}").format(folder=path.parent)) from None
    except OSError as exc:
        raise FieldkitError(_("{path} could not be written: {problem}").format(
            path=path, problem=exc.strerror or type(exc).__name__)) from None
    return path


def group_value(programme: Programme, by: str, value: str) -> str:
    if value == NOT_RECORDED:
        return _("not recorded")
    if by == "status":
        return status_word(value)
    if by == "outcome":
        return outcome_label(programme, value)
    return attribute_value(programme, by, value)


def group_choices(programme: Programme) -> list[tuple[str, str]]:
    """What a line list is grouped by: (label, column)."""
    return [(_("Status"), "status"), (_("Outcome"), "outcome"), (_("Team"), "team"),
            *((_(attribute.label), attribute.name) for attribute in programme.attributes)]


def counts_line(programme: Programme, rows: list[dict[str, Any]], by: str, unit: str) -> str:
    """The groups and their total, saying what is counted: "Tunisia 3 · Egypt 2 = 5 patients"."""
    found = counts(rows, by, unit=unit)
    groups = " · ".join(f"{group_value(programme, by, value)} {number(n)}" for value, n in found["groups"].items())
    total = _("{n} {unit}").format(n=number(found["total"]), unit=_(UNITS[unit]))
    return f"{groups} = {total}" if groups else total


class ProgrammesScreen(ReadingScreen):
    """Each programme with its enrolments by status; Enter opens its line list."""

    BINDINGS = [
        Binding("enter", "open", N_("Line list"), id="programme-open", priority=True),
        Binding("escape", "app.pop_screen", N_("Back"), id="back"),
        Binding("f12", "app.lock", N_("Lock"), id="lock"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.shown: list[str] = []

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Static(_("Programmes: enrolments by status"), classes="title")
        yield DataTable(id="programmes", cursor_type="row", zebra_stripes=True)
        yield Footer()

    @background(exclusive=True)
    async def load(self) -> None:
        programmes = await self.desk.programmes()
        by_status = await self.desk.programme_counts()
        table = self.query_one("#programmes", DataTable)
        cursor = table.cursor_row
        table.clear(columns=True)
        table.add_column(_("Programme"), width=24)
        table.add_column(_("Kind"), width=9)
        for status in STATUSES:
            table.add_column(clip(status_word(status), 9), width=9)
        table.add_column(_("Total"), width=6)
        self.shown = list(programmes)
        for programme in programmes.values():
            held = by_status.get(programme.id, {})
            table.add_row(clip(_(programme.name), 24), clip(_(KINDS[programme.kind]), 9),
                          *(number(held.get(status, 0)) for status in STATUSES), number(sum(held.values())))
        if self.shown:
            table.move_cursor(row=min(cursor, len(self.shown) - 1))
        table.focus()

    def action_open(self) -> None:
        table = self.query_one("#programmes", DataTable)
        if self.shown and 0 <= table.cursor_row < len(self.shown):
            self.app.push_screen(LineListScreen(self.shown[table.cursor_row]))


class LineListScreen(ClinicScreen):
    """One programme's enrolments, with the counts of a chosen grouping; F5 exports CSV."""

    DEFAULT_CSS = """
    #line-choices { height: 1; padding: 0 1; }
    #line-choices Label { padding: 0 1 0 0; }
    #line-choices Select { width: 26; margin: 0 2 0 0; }
    #line-counts { height: auto; padding: 0 1; }
    #line-list { height: 1fr; }
    """
    BINDINGS = [
        Binding("f5", "export", N_("Export CSV"), id="export-csv"),
        Binding("escape", "app.pop_screen", N_("Back"), id="back"),
        Binding("f12", "app.lock", N_("Lock"), id="lock"),
    ]

    def __init__(self, programme_id: str) -> None:
        super().__init__()
        self.programme_id = programme_id
        self.programme: Programme | None = None
        self.rows: list[dict[str, Any]] = []
        self.written = ""

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Static(_("opening…"), id="line-title", classes="title")
        with Horizontal(id="line-choices"):
            yield Label(_("Group by"))
            yield Select([(_("Status"), "status")], id="group-by", allow_blank=False, compact=True)
            yield Label(_("Count"))
            yield Select([(_(label), unit) for unit, label in UNITS.items()], value="enrolments", id="unit",
                         allow_blank=False, compact=True)
        yield Static("", id="line-counts")
        yield DataTable(id="line-list", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    @background(exclusive=True)
    async def load(self) -> None:
        self.programme = programme = (await self.desk.programmes())[self.programme_id]
        self.rows = rows = await self.desk.line_list(self.programme_id)
        self.query_one("#line-title", Static).update(_("{programme}: line list, {n} enrolments").format(
            programme=_(programme.name), n=number(len(rows))))
        chooser = self.query_one("#group-by", Select)
        chooser.set_options(group_choices(programme))
        chooser.value = "status"
        table = self.query_one("#line-list", DataTable)
        table.clear(columns=True)
        table.add_column(_("Name"), width=20)
        table.add_column(_("Enrolled"), width=12)
        table.add_column(_("Status"), width=11)
        table.add_column(_("Outcome"), width=14)
        for attribute in programme.attributes:
            table.add_column(clip(_(attribute.label), 16), width=16)
        for row in rows:
            table.add_row(clip(row["name"], 20), day(row["enrolled_on"]), clip(status_word(row["status"]), 11),
                          clip(outcome_label(programme, row["outcome"]), 14),
                          *(clip(attribute_value(programme, a.name, row[a.name]), 16) for a in programme.attributes))
        self.show_counts()
        table.focus()

    @on(Select.Changed)
    def show_counts(self) -> None:
        by, unit = self.query_one("#group-by", Select).value, self.query_one("#unit", Select).value
        if self.programme is None or not isinstance(by, str) or not isinstance(unit, str):
            return
        self.query_one("#line-counts", Static).update(counts_line(self.programme, self.rows, by, unit))

    def action_export(self) -> None:
        if self.programme is None:
            return
        self.app.push_screen(Ask(_("Save this line list as CSV: type the file's full path"), self._export,
                                 placeholder=_("for example {path}").format(path=f"/media/usb/{self.programme_id}.csv")),
                             callback=self._exported)

    async def _export(self, typed: str) -> None:
        if not typed.strip():
            raise FieldkitError(_("type where to save the file"))
        text = to_csv(self.rows, columns_of(self.rows, ENROLMENT_COLUMNS))
        self.written = str(await off_loop(write_csv, typed.strip(), text))

    def _exported(self, saved: bool | None) -> None:
        if saved:
            self.notify(_("Saved {n} rows to {path}").format(n=number(len(self.rows)), path=self.written), timeout=8)
