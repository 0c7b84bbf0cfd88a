"""Home: one search box answering as you type, today's follow-ups and referrals, recent patients.

Search runs in an exclusive worker, so a keystroke cancels the search still running for the
previous one and only the newest answer is shown. Results come a page at a time (the stock
DataTable is slow past a few thousand rows; a page is twenty). While a search is typed its results
take the whole width, with the phone and an identifier (or the locality) that tell namesakes
apart; otherwise today's two task lists stand beside the recent patients, each with its whole
count, paged, every row opening the patient's chart. Typing anywhere on the screen types into
the search box.
"""

from __future__ import annotations

import re
from typing import Any

from rich.cells import cell_len
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Input, Static

from fieldkit.i18n import N_, _, day, digits, number
from fieldkit.namekeys import PHONE_MIN_DIGITS
from fieldkit.records.search import PatientSummary
from fieldkit.records.worklists import PAGE
from fieldkit.text import ascii_digits
from fieldkit.tui.base import ClinicScreen, background
from fieldkit.tui.messages import OpenChart, OpenRegistration
from fieldkit.tui.status import StatusBar
from fieldkit.tui.words import born, word

SEX_MARK = {"female": N_("F"), "male": N_("M"), "other": N_("O"), "unknown": "?"}
TASK_ROWS = 8  # of each task list: both, with their titles, fill the pane at 80x24
TASK_CELLS = 27  # the pane's 31 cells less two columns' padding
# Cells of each column while searching, at 80 columns (a row's cell padding and the scroll bar
# take the rest): the name is shortened before anything else is dropped.
WIDE = {"name": 25, "born": 9, "phone": 14, "known_by": 20}
NARROW = {"name": 19, "born": 9, "known_by": 12}  # beside today's lists
_PHONE_LIKE = re.compile(r"[+(]*[0-9][0-9()./ -]*")


def clip(text: str, width: int) -> str:
    """`text` cut to `width` cells with an ellipsis, in logical order (the drawn line is laid
    out later, so a right-to-left name loses its last words, not its first)."""
    if cell_len(text) > width:
        while cell_len(text) > width - 1:
            text = text[:-1]
        text = text.rstrip() + "…"
    return text


def known_by(patient: PatientSummary) -> str:
    """What tells this patient from a namesake after the phone: an identifier, or else the place."""
    return patient.identifiers[0] if patient.identifiers else patient.locality


def describe(patient: PatientSummary, *, wide: bool = False) -> tuple[str, ...]:
    """Name, sex and year of birth, then (searching) the phone, then an identifier or the locality:
    the year and phone columns stay between the columns that may be right-to-left, so a bidi
    terminal never runs them together (ecosystem.md 4.5)."""
    widths = WIDE if wide else NARROW
    sex_born = f"{_(SEX_MARK.get(patient.sex, '?'))} {born(patient)}"
    if not wide:
        return clip(patient.full_name, widths["name"]), sex_born, clip(patient.locality, widths["known_by"])
    # The phone and identifier as stored, as the chart shows them: numbers to read out and type exactly.
    return (clip(patient.full_name, widths["name"]), sex_born, patient.phone, clip(known_by(patient), widths["known_by"]))


def too_short_for_a_phone(query: str) -> bool:
    typed = ascii_digits(query.strip())
    return bool(_PHONE_LIKE.fullmatch(typed)) and len(re.sub(r"\D", "", typed).lstrip("0")) < PHONE_MIN_DIGITS


class HomeScreen(ClinicScreen):
    DEFAULT_CSS = """
    HomeScreen #today DataTable { height: auto; max-height: 8; }
    HomeScreen #today .title { padding: 0; }
    HomeScreen #referrals-title { margin: 1 0 0 0; }
    """
    BINDINGS = [
        Binding("f2", "app.worklist", N_("Worklist"), id="worklist", show=False),
        Binding("f3", "focus_search", N_("Search"), id="search", show=False),
        Binding("f4", "register", N_("Register"), id="register"),
        Binding("f5", "app.referrals", N_("Referrals"), id="referrals"),
        # Before the lists' own scrolling: a page of results or tasks is fetched, not scrolled to.
        Binding("pagedown", "page(1)", N_("Next page"), id="next-page", show=False, priority=True),
        Binding("pageup", "page(-1)", N_("Previous page"), id="previous-page", show=False, priority=True),
        # F6, F7 and F10 stay out of the footer, full at 80 columns; the palette lists them.
        Binding("f6", "app.day_summary", N_("Summary"), id="day-summary", show=False),
        Binding("f7", "app.merge_patients", N_("Merge"), id="merge-patients", show=False),
        Binding("f8", "app.conflicts", N_("Conflicts"), id="conflicts"),
        Binding("f9", "app.sync", N_("Sync"), id="sync"),
        Binding("f10", "app.users", N_("Users"), id="users", show=False),
        # Settings is set once a laptop; referrals are every day's work: F11 keeps to the palette.
        Binding("f11", "app.settings", N_("Settings"), id="settings", show=False),
        Binding("f12", "app.lock", N_("Lock"), id="lock"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.page = 0
        self.shown: list[str] = []  # patient id of each row
        self.tasks: dict[str, list[str]] = {"due": [], "referrals": []}  # patient id of each task row
        self.task_from = {"due": 0, "referrals": 0}  # first row of each task list's page
        self.wide: bool | None = None  # the results' columns: searching (wide) or recent patients

    def compose(self) -> ComposeResult:
        yield StatusBar()
        # Focus keeps what was typed unselected: letters typed from a list are added to it.
        yield Input(placeholder=_("Find a patient: any part of a name, any script, an id or a phone"), id="search",
                    select_on_focus=False)
        with Horizontal():
            with Vertical(id="results-pane"):
                yield Static(_("Recent patients"), id="results-title", classes="title")
                yield DataTable(id="results", cursor_type="row", zebra_stripes=True)
            with Vertical(id="today"):
                for task in self.tasks:
                    yield Static(id=f"{task}-title", classes="title")
                    yield DataTable(id=task, cursor_type="row", show_header=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#search").focus()
        self.refresh_today()

    def on_screen_resume(self) -> None:
        self.refresh_today()

    def _columns(self, wide: bool) -> None:
        if self.wide == wide:
            return
        self.wide = wide
        table = self.query_one("#results", DataTable)
        table.clear(columns=True)
        headers = [_("Name"), _("Sex/born")] + ([_("Phone"), _("ID or locality")] if wide else [_("Locality")])
        for header, width in zip(headers, (WIDE if wide else NARROW).values()):
            table.add_column(clip(header, width), width=width)
        self.query_one("#today").display = not wide

    @background(exclusive=True, group="today")
    async def refresh_today(self) -> None:
        today = await self.desk.today(tasks=TASK_ROWS, due_from=self.task_from["due"],
                                      referrals_from=self.task_from["referrals"])
        self.task_from = {"due": today.due_from, "referrals": today.referrals_from}

        def rows(tasks: list[dict[str, Any]], what: str) -> list[tuple[str, str, str]]:
            return [(task["patient_id"], day(task["due"]) if what == "due" else word(task["urgency"]),
                     today.names.get(task["patient_id"], "?")) for task in tasks]

        self._tasks("due", _("Follow-ups due"), today.due_count, today.due_from, rows(today.due, "due"))
        self._tasks("referrals", _("Referrals waiting"), today.referrals_count, today.referrals_from,
                    rows(today.referrals, "referrals"))
        if not self.query_one("#search", Input).value.strip():
            self._columns(wide=False)
            self._show(_("Recent patients"), today.recent)

    def _tasks(self, task: str, title: str, count: int, first: int, rows: list[tuple[str, str, str]]) -> None:
        """A task list's page of (patient id, when or how urgent, name), under its whole count and
        which rows of it are shown; the name takes what the first column leaves."""
        heading = f"{title}: {number(count)}"
        if count > len(rows):
            heading += " · " + _("{first}–{last}").format(first=number(first + 1), last=number(first + len(rows)))
        self.query_one(f"#{task}-title", Static).update(heading)
        table = self.query_one(f"#{task}", DataTable)
        cursor = table.cursor_row
        table.clear(columns=True)
        lead = max((cell_len(what) for _id, what, _name in rows), default=1)
        table.add_column("", width=lead)
        table.add_column("", width=TASK_CELLS - lead)
        table.add_rows([(what, clip(name, TASK_CELLS - lead)) for _id, what, name in rows])
        if rows:
            table.move_cursor(row=min(cursor, len(rows) - 1))
        self.tasks[task] = [patient for patient, _what, _name in rows]

    @on(Input.Changed, "#search")
    def typed(self) -> None:
        self.page = 0
        self.find()

    @background(exclusive=True, group="search")
    async def find(self) -> None:
        query = self.query_one("#search", Input).value
        if not query.strip():
            self.refresh_today()
            return
        found = await self.desk.search(query, self.page)
        if found:
            title = _("Patients found, page {n}").format(n=digits(str(self.page + 1)))
        elif self.page:
            title = _("No more patients")
        elif too_short_for_a_phone(query):
            title = _("No patient found: a phone number needs at least its last {n} digits").format(
                n=number(PHONE_MIN_DIGITS))
        else:
            title = _("No patient found")
        self._columns(wide=True)
        self._show(title, found)

    def _show(self, title: str, patients: list[PatientSummary]) -> None:
        self.query_one("#results-title", Static).update(title)
        table = self.query_one("#results", DataTable)
        table.clear()
        self.shown = [p.id for p in patients]
        for patient in patients:
            table.add_row(*describe(patient, wide=bool(self.wide)))

    @on(Input.Submitted, "#search")
    def open_first(self) -> None:
        if self.shown:
            self.post_message(OpenChart(self.shown[0]))

    @on(DataTable.RowSelected, "#results")
    def open_selected(self, event: DataTable.RowSelected) -> None:
        self.post_message(OpenChart(self.shown[event.cursor_row]))

    @on(DataTable.RowSelected, "#today DataTable")
    def open_task(self, event: DataTable.RowSelected) -> None:
        patients = self.tasks[str(event.data_table.id)]
        if event.cursor_row < len(patients):
            self.post_message(OpenChart(patients[event.cursor_row]))

    def on_key(self, event: events.Key) -> None:
        search = self.query_one("#search", Input)
        # Down from the search box goes to the results, as in every search-first list.
        if event.key == "down" and self.focused is search and self.shown:
            self.query_one("#results").focus()
            event.stop()
        # Letters typed while a list has the focus (back from a chart, say) are a search, not lost.
        elif event.is_printable and event.character and self.focused is not search:
            search.focus()
            search.cursor_position = len(search.value)
            search.insert_text_at_cursor(event.character)
            event.stop()

    def action_focus_search(self) -> None:
        self.query_one("#search").focus()

    def action_page(self, step: int) -> None:
        focused = getattr(self.focused, "id", None)
        if focused in self.task_from:
            self.task_from[focused] = max(0, self.task_from[focused] + step * TASK_ROWS)
            self.refresh_today()
            return
        searching = bool(self.query_one("#search", Input).value.strip())
        beyond = (step > 0 and len(self.shown) < PAGE) or self.page + step < 0
        if searching and not beyond:
            self.page += step
            self.find()

    def action_register(self) -> None:
        self.post_message(OpenRegistration(self.query_one("#search", Input).value))
