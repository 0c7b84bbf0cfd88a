"""Screening rounds (palette: "Screening rounds"): each round, the latest first, with the people it
tested, test by test (tested, positive, negative, indeterminate), and of them how many were
vaccinated, completed a series and are immune.

Every figure counts people, not rows (records/screening.round_summary and
vaccine_lists.round_counts): a person tested twice is one person tested. The rounds read as text,
not as a table of narrow columns: their words fit 80 columns in every language.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static

from fieldkit.i18n import N_, _, day, number
from fieldkit.tui.base import ReadingScreen, background
from fieldkit.tui.status import StatusBar


def round_text(summary: dict[str, Any]) -> str:
    """One round: its name and days, the people tested, each test's answers, their vaccination."""
    planned, counts = summary["round"], summary["vaccination"]
    days = day(planned["starts"]) + (f" – {day(planned['ends'])}" if planned.get("ends") else "")
    lines = [f"{planned['name']} · {days}",
             "  " + _("People tested: {n}").format(n=number(summary["tested"]))]
    for test in summary["tests"].values():
        line = _("{test}: {tested} tested · {positive} positive · {negative} negative").format(
            test=_(test["name"]), tested=number(test["tested"]), positive=number(test["positive"]),
            negative=number(test["negative"]))
        if test["indeterminate"]:
            line += " · " + _("{n} indeterminate").format(n=number(test["indeterminate"]))
        if test["high"] or test["low"]:
            line += " · " + _("{high} high · {low} low").format(high=number(test["high"]), low=number(test["low"]))
        lines.append("  " + line)
    lines.append("  " + _("Of those tested: {vaccinated} vaccinated · {completed} completed a series · {immune} "
                          "immune · {repeat} on a second series · {non} non-responders · {due} awaiting their test").format(
        vaccinated=number(counts["vaccinated"]), completed=number(counts["completed"]), immune=number(counts["immune"]),
        repeat=number(counts["repeat_series"]), non=number(counts["non_responders"]), due=number(counts["test_due"])))
    if planned.get("population"):
        lines.append("  " + _("Who: {population}").format(population=planned["population"]))
    return "\n".join(lines)


class RoundsScreen(ReadingScreen):
    DEFAULT_CSS = """
    #rounds { height: 1fr; padding: 0 1; }
    #rounds-list { height: auto; }
    """
    BINDINGS = [
        Binding("escape", "app.pop_screen", N_("Back"), id="back"),
        Binding("f12", "app.lock", N_("Lock"), id="lock"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rounds: list[dict[str, Any]] = []
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Static(_("Screening rounds: people tested, and their vaccination"), classes="title")
        with VerticalScroll(id="rounds"):
            yield Static(_("opening…"), id="rounds-list", markup=False)
        yield Footer()

    @background(exclusive=True)
    async def load(self) -> None:
        self.rounds = await self.desk.rounds_overview()
        self.loaded = True
        text = "\n\n".join(round_text(summary) for summary in self.rounds)
        self.query_one("#rounds-list", Static).update(
            text or _("No screening round yet: a supervisor plans one (fieldkit round add)."))
        self.query_one("#rounds").focus()
