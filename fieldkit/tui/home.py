"""Home: one search box answering as you type, today's follow-ups and referrals, recent patients.

Search runs in an exclusive worker, so a keystroke cancels the search still running for the
previous one and only the newest answer is shown. Results come a page at a time (the stock
DataTable is slow past a few thousand rows; a page is twenty).
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from fieldkit.records.search import PatientSummary
from fieldkit.tui.desk import PAGE
from fieldkit.tui.status import StatusBar


def describe(patient: PatientSummary) -> tuple[str, str, str]:
    born = patient.birth_date[:4] + ("~" if patient.birth_date_estimated else "") if patient.birth_date else "?"
    return patient.full_name, f"{patient.sex[:1].upper()} {born}", patient.locality


class HomeScreen(Screen):
    BINDINGS = [
        Binding("f3", "focus_search", "Search", id="search"),
        Binding("f4", "register", "Register", id="register"),
        Binding("pagedown", "page(1)", "Next page", id="next-page", show=False),
        Binding("pageup", "page(-1)", "Previous page", id="previous-page", show=False),
        Binding("f8", "app.conflicts", "Conflicts", id="conflicts"),
        Binding("f9", "app.sync", "Sync", id="sync"),
        Binding("f12", "app.lock", "Lock", id="lock"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.page = 0
        self.shown: list[str] = []  # patient id of each row

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Input(placeholder="Find a patient: any part of a name, any script, an id or a phone", id="search")
        with Horizontal():
            with Vertical(id="results-pane"):
                yield Static("Recent patients", id="results-title", classes="title")
                yield DataTable(id="results", cursor_type="row", zebra_stripes=True)
            yield Static(id="today")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#results", DataTable)
        table.add_columns("Name", "Sex/born", "Locality")
        self.query_one("#search").focus()
        self.refresh_today()

    def on_screen_resume(self) -> None:
        self.refresh_today()

    @work(exclusive=True, group="today")
    async def refresh_today(self) -> None:
        today = await self.app.desk.today()
        lines = [f"Follow-ups due ({len(today.due)})"]
        lines += [f"  {t['due']} {today.names.get(t['patient_id'], '?')}" for t in today.due[:8]]
        lines += ["", f"Referrals waiting ({len(today.referrals)})"]
        lines += [f"  {r['urgency']}: {today.names.get(r['patient_id'], '?')}" for r in today.referrals[:8]]
        self.query_one("#today", Static).update("\n".join(lines))
        if not self.query_one("#search", Input).value:
            self._show("Recent patients", today.recent)

    @on(Input.Changed, "#search")
    def typed(self) -> None:
        self.page = 0
        self.find()

    @work(exclusive=True, group="search")
    async def find(self) -> None:
        query = self.query_one("#search", Input).value
        if not query.strip():
            self.refresh_today()
            return
        found = await self.app.desk.search(query, self.page)
        if found:
            title = f"Patients found, page {self.page + 1}"
        else:
            title = "No more patients" if self.page else "No patient found"
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
            self.app.open_chart(self.shown[0])

    @on(DataTable.RowSelected, "#results")
    def open_selected(self, event: DataTable.RowSelected) -> None:
        self.app.open_chart(self.shown[event.cursor_row])

    def on_key(self, event) -> None:
        # Down from the search box goes to the results, as in every search-first list.
        if event.key == "down" and self.focused is self.query_one("#search") and self.shown:
            self.query_one("#results").focus()
            event.stop()

    def action_focus_search(self) -> None:
        self.query_one("#search").focus()

    def action_page(self, step: int) -> None:
        searching = bool(self.query_one("#search", Input).value.strip())
        beyond = step > 0 and len(self.shown) < PAGE or self.page + step < 0
        if searching and not beyond:
            self.page += step
            self.find()

    def action_register(self) -> None:
        self.app.open_registration(self.query_one("#search", Input).value)
