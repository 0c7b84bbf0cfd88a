"""Home: one search box answering as you type, today's follow-ups and referrals, recent patients.

Search runs in an exclusive worker, so a keystroke cancels the search still running for the
previous one and only the newest answer is shown. Results come a page at a time (the stock
DataTable is slow past a few thousand rows; a page is twenty).
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Input, Static

from fieldkit.i18n import N_, _, day, digits
from fieldkit.records.search import PatientSummary
from fieldkit.records.worklists import PAGE
from fieldkit.tui.base import ClinicScreen, background
from fieldkit.tui.messages import OpenChart, OpenRegistration
from fieldkit.tui.rtl import shown
from fieldkit.tui.status import StatusBar
from fieldkit.tui.words import born, word

SEX_MARK = {"female": N_("F"), "male": N_("M"), "other": N_("O"), "unknown": "?"}


def describe(patient: PatientSummary) -> tuple[str, str, str]:
    """Name, sex and year of birth, locality: the year column stays between the two columns that
    may be right-to-left, so a bidi terminal never runs them together (ecosystem.md 4.5)."""
    return shown(patient.full_name), f"{_(SEX_MARK.get(patient.sex, '?'))} {born(patient)}", shown(patient.locality)


class HomeScreen(ClinicScreen):
    BINDINGS = [
        Binding("f3", "focus_search", N_("Search"), id="search", show=False),
        Binding("f4", "register", N_("Register"), id="register"),
        Binding("pagedown", "page(1)", N_("Next page"), id="next-page", show=False),
        Binding("pageup", "page(-1)", N_("Previous page"), id="previous-page", show=False),
        # F6, F7 and F10 stay out of the footer, full at 80 columns; the palette lists them.
        Binding("f6", "app.day_summary", N_("Summary"), id="day-summary", show=False),
        Binding("f7", "app.merge_patients", N_("Merge"), id="merge-patients", show=False),
        Binding("f8", "app.conflicts", N_("Conflicts"), id="conflicts"),
        Binding("f9", "app.sync", N_("Sync"), id="sync"),
        Binding("f10", "app.users", N_("Users"), id="users", show=False),
        Binding("f11", "app.settings", N_("Settings"), id="settings"),
        Binding("f12", "app.lock", N_("Lock"), id="lock"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.page = 0
        self.shown: list[str] = []  # patient id of each row

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Input(placeholder=_("Find a patient: any part of a name, any script, an id or a phone"), id="search")
        with Horizontal():
            with Vertical(id="results-pane"):
                yield Static(_("Recent patients"), id="results-title", classes="title")
                yield DataTable(id="results", cursor_type="row", zebra_stripes=True)
            yield Static(id="today")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#results", DataTable)
        table.add_columns(_("Name"), _("Sex/born"), _("Locality"))
        self.query_one("#search").focus()
        self.refresh_today()

    def on_screen_resume(self) -> None:
        self.refresh_today()

    @background(exclusive=True, group="today")
    async def refresh_today(self) -> None:
        today = await self.desk.today()

        def name(task: dict) -> str:
            return shown(today.names.get(task["patient_id"], "?"))

        lines = [_("Follow-ups due ({n})").format(n=digits(str(len(today.due))))]
        lines += [f"  {day(t['due'])}  {name(t)}" for t in today.due[:8]]
        lines += ["", _("Referrals waiting ({n})").format(n=digits(str(len(today.referrals))))]
        lines += [f"  {word(r['urgency'])}: {name(r)}" for r in today.referrals[:8]]
        self.query_one("#today", Static).update("\n".join(lines))
        if not self.query_one("#search", Input).value:
            self._show(_("Recent patients"), today.recent)

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
        else:
            title = _("No more patients") if self.page else _("No patient found")
        self._show(title, found)

    def _show(self, title: str, patients: list[PatientSummary]) -> None:
        self.query_one("#results-title", Static).update(title)
        table = self.query_one("#results", DataTable)
        table.clear()
        self.shown = [p.id for p in patients]
        for patient in patients:
            table.add_row(*describe(patient))

    @on(Input.Submitted, "#search")
    def open_first(self) -> None:
        if self.shown:
            self.post_message(OpenChart(self.shown[0]))

    @on(DataTable.RowSelected, "#results")
    def open_selected(self, event: DataTable.RowSelected) -> None:
        self.post_message(OpenChart(self.shown[event.cursor_row]))

    def on_key(self, event) -> None:
        # Down from the search box goes to the results, as in every search-first list.
        if event.key == "down" and self.focused is self.query_one("#search") and self.shown:
            self.query_one("#results").focus()
            event.stop()

    def action_focus_search(self) -> None:
        self.query_one("#search").focus()

    def action_page(self, step: int) -> None:
        searching = bool(self.query_one("#search", Input).value.strip())
        beyond = (step > 0 and len(self.shown) < PAGE) or self.page + step < 0
        if searching and not beyond:
            self.page += step
            self.find()

    def action_register(self) -> None:
        self.post_message(OpenRegistration(self.query_one("#search", Input).value))
