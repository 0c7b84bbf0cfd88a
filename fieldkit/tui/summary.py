"""The supervisor's day summary: who was seen, how sick, what was referred, what is due.

One day at a time ([ and ] step back and forward), counted from the folded tables. Encounters by
NEWS2 band are a bar chart of block characters, every bar carrying its band word and its count,
so nothing depends on colour; the hours of the day are a sparkline beside the busiest hour in words.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Label, Sparkline, Static

from fieldkit.errors import FieldkitError
from fieldkit.i18n import N_, _, day, digits, ngettext, number
from fieldkit.tui.bars import bar
from fieldkit.tui.base import RoleScreen, background
from fieldkit.tui.status import StatusBar
from fieldkit.tui.words import word

BAR_WIDTH = 40  # cells for the longest bar: the label and count columns still fit in 80
URGENCIES = ("emergency", "urgent", "routine")


def bar_chart(rows: list[tuple[str, int]], width: int = BAR_WIDTH) -> str:
    """One line per row: label, count, bar; labels and counts in aligned columns."""
    most = max((count for _label, count in rows), default=0)
    counts = [number(count) for _label, count in rows]
    label_width = max((len(label) for label, _count in rows), default=0)
    count_width = max(map(len, counts), default=0)
    return "\n".join(f"{label:<{label_width}} {shown_count:>{count_width}} {bar(count, most, width)}".rstrip()
                     for (label, count), shown_count in zip(rows, counts))


def counts(found: dict[str, Any]) -> str:
    seen = ngettext("{n} patient seen", "{n} patients seen", found["patients"]).format(n=number(found["patients"]))
    encounters = ngettext("{n} encounter", "{n} encounters", found["encounters"]).format(
        n=number(found["encounters"]))
    made = sum(found["referrals"].values())
    referrals = ngettext("{n} referral made", "{n} referrals made", made).format(n=number(made))
    urgent = [f"{number(found['referrals'][u])} {word(u)}" for u in URGENCIES if found["referrals"].get(u)]
    if urgent:
        referrals += f" ({', '.join(urgent)})"
    due_total = sum(found["followups_due"].values())
    due = ngettext("{n} follow-up due", "{n} follow-ups due", due_total).format(n=number(due_total))
    if due_total:
        still_open = found["followups_due"].get("open", 0)
        due += ", " + ngettext("{n} still open", "{n} still open", still_open).format(n=number(still_open))
    overdue = ngettext("{n} follow-up overdue from earlier days", "{n} follow-ups overdue from earlier days",
                       found["overdue"]).format(n=number(found["overdue"]))
    return "\n".join([f"{seen} · {encounters}", referrals, due, overdue])


def busiest(hours: list[int]) -> str:
    most = max(hours)
    if not most:
        return _("Encounters per hour: none")
    hour = hours.index(most)
    return _("Encounters per hour, midnight to midnight: busiest {hour} ({n})").format(
        hour=digits(f"{hour:02d}:00"), n=number(most))


class SummaryScreen(RoleScreen):
    ACTION = "see the day summary"
    REFUSAL = N_("Only a supervisor sees the day summary.")
    DEFAULT_CSS = """
    #summary { padding: 0 1; }
    #summary-chart { margin: 0 0 1 0; }
    #summary-hours { width: 24; margin: 0 1; }
    """
    BINDINGS = [
        Binding("left_square_bracket,left", "step(-1)", N_("Previous day"), id="previous-day"),
        Binding("right_square_bracket,right", "step(1)", N_("Next day"), id="next-day"),
        Binding("home", "today", N_("Today"), id="today", show=False),
        Binding("escape", "app.pop_screen", N_("Back"), id="back"),
        Binding("f12", "app.lock", N_("Lock"), id="lock"),
    ]

    def __init__(self, on: date | None = None) -> None:
        super().__init__()
        self.day = on or date.today()

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with VerticalScroll(id="summary"):
            yield Static(id="summary-title", classes="title")
            yield Static(id="summary-counts")
            yield Static(_("Encounters by NEWS2 risk band"), classes="title")
            yield Static(id="summary-chart")
            yield Static(id="summary-busiest")
            yield Sparkline([0] * 24, id="summary-hours")
            yield Label("", id="summary-error", classes="error")
        yield Footer()

    def on_mount(self) -> None:
        if self.refused():
            return
        self.load()

    def action_step(self, days: int) -> None:
        self.day += timedelta(days=days)
        self.load()

    def action_today(self) -> None:
        self.day = date.today()
        self.load()

    @background(exclusive=True)
    async def load(self) -> None:
        title = _("Day summary: {day}").format(day=day(self.day))
        if self.day == date.today():
            title += " · " + _("today")
        self.query_one("#summary-title", Static).update(title)
        try:
            found = await self.desk.day_summary(self.day)
        except FieldkitError as exc:
            self.query_one("#summary-error", Label).update(str(exc))
            return
        self.query_one("#summary-counts", Static).update(counts(found))
        self.query_one("#summary-chart", Static).update(
            bar_chart([(_(band), count) for band, count in found["bands"].items()]))
        self.query_one("#summary-busiest", Static).update(busiest(found["hours"]))
        self.query_one("#summary-hours", Sparkline).data = found["hours"]
