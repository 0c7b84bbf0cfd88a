"""The referral tracker (F5 at home): the referring unit's lists, and a hospital desk's "referrals to us".

Each list is a table under its title and count: awaiting the board, to send, overdue (most urgent,
then longest overdue, first), awaiting arrival, feedback to act on, and referrals whose events two
laptops disagree on (a supervisor settles them on the referral). An empty list shows only its
title. Tab moves between the lists, Enter opens the referral, and the line at the bottom gives the
highlighted referral's number, ends and reason. F6 lists the referrals sent to this laptop's
facility instead. Both lists are read again whenever the screen comes back to the top.
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Static

from fieldkit.i18n import N_, _, day, ngettext, number
from fieldkit.records import facilities
from fieldkit.tui.base import ReadingScreen, background
from fieldkit.tui.home import clip
from fieldkit.tui.status import StatusBar
from fieldkit.tui.words import word

SECTIONS = (
    ("awaiting_board", N_("Awaiting the board")),
    ("to_send", N_("To send")),
    ("overdue", N_("Overdue")),
    ("awaiting_arrival", N_("Awaiting arrival")),
    ("feedback", N_("Feedback to act on")),
    ("disputed", N_("Disputed: a supervisor settles")),
)
NAME_CELLS = 16  # a patient's name; the other end's name gets as many
ADVICE_CELLS = 26
# Column headers of each kind of list; the number comes last, and Right scrolls to it at 80 columns
# (the line under the lists always shows it for the highlighted row).
HEADERS = {
    "referral": (N_("Patient"), N_("Urgency"), N_("Status"), N_("Expected"), N_("To"), N_("Number")),
    "overdue": (N_("Patient"), N_("Urgency"), N_("Overdue"), N_("Status"), N_("To"), N_("Number")),
    "feedback": (N_("Patient"), N_("Follow-up"), N_("Advice"), N_("To"), N_("Number")),
    "disputed": (N_("Patient"), N_("Events"), N_("Urgency"), N_("To"), N_("Number")),
    "to_us": (N_("Patient"), N_("Urgency"), N_("Status"), N_("Expected"), N_("From"), N_("Number")),
}


def _day(value: str | None) -> str:
    return day(value) if value else "-"


def cells(kind: str, item: dict[str, Any]) -> tuple[str, ...]:
    """One referral as a row of a `kind` of list (HEADERS)."""
    name, urgency, status = clip(item.get("patient_name") or "?", NAME_CELLS), word(item.get("urgency")), word(item.get("status"))
    to = clip(item.get("to_name") or "", NAME_CELLS)
    ref = item.get("number") or ""
    if kind == "overdue":
        late = ngettext("{n} day", "{n} days", item["days_overdue"]).format(n=number(item["days_overdue"]))
        return name, urgency, late, status, to, ref
    if kind == "feedback":
        return name, _day(item.get("due")), clip(item.get("advice") or "", ADVICE_CELLS), to, ref
    if kind == "disputed":
        sides = " | ".join(word(side["value"]) for side in item["candidates"])
        return name, sides, urgency, to, ref
    if kind == "to_us":
        return name, urgency, status, _day(item.get("expected_by")), clip(item.get("from_name") or "", NAME_CELLS), ref
    return name, urgency, status, _day(item.get("expected_by")), to, ref


def summary_line(item: dict[str, Any]) -> str:
    """What the highlighted row does not show whole: its number, both ends, the service, the reason."""
    destination = item.get("to_name") or "?"
    ends = (_("from {origin} to {destination}").format(origin=item["from_name"], destination=destination)
            if item.get("from_name") else _("to {destination}").format(destination=destination))
    if item.get("to_service"):
        ends += f", {item['to_service']}"
    reason = item.get("advice") or " ".join(part for part in (item.get("reason_code"), item.get("reason")) if part)
    return " · ".join(part for part in (item.get("number"), ends, reason) if part)


def fill(table: DataTable, kind: str, items: list[dict[str, Any]]) -> None:
    cursor = table.cursor_row
    table.clear(columns=True)
    table.add_columns(*(_(header) for header in HEADERS[kind]))
    table.add_rows([cells(kind, item) for item in items])
    if items:
        table.move_cursor(row=min(cursor, len(items) - 1))


class ListsScreen(ReadingScreen):
    """Referral lists, each a titled table; Enter opens the referral under the cursor."""

    DEFAULT_CSS = """
    ListsScreen #lists { height: 1fr; }
    ListsScreen DataTable { height: auto; max-height: 10; scrollbar-size-horizontal: 0; }
    ListsScreen .title { margin: 1 0 0 0; }
    ListsScreen #referral-line { height: auto; max-height: 3; padding: 0 1; border-top: solid $primary; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[str, list[dict[str, Any]]] = {}

    def show(self, section: str, title: str, kind: str, items: list[dict[str, Any]]) -> None:
        self.items[section] = items
        self.query_one(f"#{section}-title", Static).update(f"{title}: {number(len(items))}")
        table = self.query_one(f"#{section}", DataTable)
        fill(table, kind, items)
        table.display = bool(items)

    def focus_a_list(self) -> None:
        """Keep the focus where it was, or give it to the first list with a row."""
        if isinstance(self.focused, DataTable) and self.focused.display:
            self.describe(self.focused)
            return
        for table in self.query(DataTable):
            if table.display:
                table.focus()
                self.describe(table)
                return
        self.query_one("#referral-line", Static).update("")

    def chosen(self, table: DataTable, row: int) -> dict[str, Any] | None:
        items = self.items.get(str(table.id), [])
        return items[row] if 0 <= row < len(items) else None

    def describe(self, table: DataTable) -> None:
        item = self.chosen(table, table.cursor_row)
        self.query_one("#referral-line", Static).update(summary_line(item) if item else "")

    @on(DataTable.RowHighlighted)
    def highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table is self.focused:
            self.describe(event.data_table)

    def on_descendant_focus(self) -> None:
        if isinstance(self.focused, DataTable):
            self.describe(self.focused)

    @on(DataTable.RowSelected)
    def open_referral(self, event: DataTable.RowSelected) -> None:
        from fieldkit.tui.referral_view import ReferralScreen

        item = self.chosen(event.data_table, event.cursor_row)
        if item is not None:
            self.app.push_screen(ReferralScreen(item.get("referral_id") or item["id"]))


class TrackerScreen(ListsScreen):
    BINDINGS = [
        Binding("f6", "to_us", N_("To us"), id="referrals-to-us"),
        Binding("escape", "app.pop_screen", N_("Back"), id="back"),
        Binding("f12", "app.lock", N_("Lock"), id="lock"),
    ]

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Static(_("Referrals from this unit"), classes="title", id="tracker-title")
        with VerticalScroll(id="lists"):
            for section, _title in SECTIONS:
                yield Static(id=f"{section}-title", classes="title")
                yield DataTable(id=section, cursor_type="row", zebra_stripes=True)
        yield Static(id="referral-line")
        yield Footer()

    @background(exclusive=True)
    async def load(self) -> None:
        lists = await self.desk.tracker()
        for section, title in SECTIONS:
            kind = section if section in ("overdue", "feedback", "disputed") else "referral"
            self.show(section, _(title), kind, lists[section])
        self.focus_a_list()

    def action_to_us(self) -> None:
        self.app.push_screen(ToUsScreen())


class ToUsScreen(ListsScreen):
    """The receiving desk: referrals addressed to this laptop's facility, open ones, most urgent first."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", N_("Back"), id="back"),
        Binding("f12", "app.lock", N_("Lock"), id="lock"),
    ]

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with VerticalScroll(id="lists"):
            yield Static(_("Referrals to us"), id="to_us-title", classes="title")
            yield DataTable(id="to_us", cursor_type="row", zebra_stripes=True)
        yield Static(id="referral-line")
        yield Footer()

    @background(exclusive=True)
    async def load(self) -> None:
        facility, found = await self.desk.to_us()
        if not facility:
            self.query_one("#to_us-title", Static).update(_("No facility set for this laptop (fieldkit referral here CODE)"))
            self.query_one("#to_us", DataTable).display = False
            return
        title = _("Referrals to {facility}").format(facility=facilities.name_of(facility))
        self.show("to_us", title, "to_us", found)
        self.focus_a_list()
