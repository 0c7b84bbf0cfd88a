"""A follow-up opened from the chart: done, cancelled, rescheduled, or open again (a referral opens
its own screen, tui/referral_view.py). A choice is saved at once and can be changed back the
same way; the chart shows the result when this closes."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from fieldkit.errors import FieldkitError
from fieldkit.i18n import N_, _, day, digits
from fieldkit.tui.ask import Ask
from fieldkit.tui.base import Translated, background
from fieldkit.tui.status import StatusBar
from fieldkit.tui.words import word

RESCHEDULE = "reschedule"
# What each status becomes as a choice, in the order offered.
CHOICES = (("done", N_("Done: the patient came back")), ("cancelled", N_("Cancelled: no longer needed")),
           (RESCHEDULE, N_("Reschedule to another day…")), ("open", N_("Open again")))


def describe(task: dict[str, Any]) -> str:
    return _("Follow-up due {due} · {reason} · {status}").format(
        due=day(task["due"]), reason=task["reason"] or "-", status=word(task["status"]))


class TaskScreen(Translated, ModalScreen[bool]):
    DEFAULT_CSS = """
    TaskScreen { align: center middle; }
    #task { width: 72; max-width: 100%; height: auto; border: round $primary; padding: 0 1; background: $surface; }
    #task OptionList { height: auto; margin: 1 0 0 0; }
    """
    BINDINGS = [
        Binding("escape", "dismiss(False)", N_("Back"), id="back"),
        Binding("f12", "app.lock", N_("Lock"), id="lock"),
    ]

    def __init__(self, task: dict[str, Any]) -> None:
        super().__init__()
        self.item = task

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with Vertical(id="task"):
            yield Static(describe(self.item), id="task-line")
            yield OptionList(*(Option(_(label), id=choice) for choice, label in CHOICES
                               if self._offered(choice)), id="choices")
            yield Static("", id="task-error", classes="error")
        yield Footer()

    def _offered(self, choice: str) -> bool:
        status = self.item["status"]
        return choice != status and not (choice == RESCHEDULE and status != "open")

    @on(OptionList.OptionSelected, "#choices")
    def chosen(self, event: OptionList.OptionSelected) -> None:
        choice = event.option.id or ""
        if choice == RESCHEDULE:
            week = date.today() + timedelta(days=7)
            self.app.push_screen(Ask(_("New day for this follow-up (day/month/year):"), self._reschedule,
                                     value=digits(f"{week:%d/%m/%Y}")), callback=self._asked)
        else:
            self.set_status(choice)

    async def _reschedule(self, due: str) -> None:
        await self.desk.reschedule(self.item["id"], due)

    def _asked(self, saved: bool | None) -> None:
        if saved:
            self.notify(_("Follow-up rescheduled."))
            self.dismiss(True)

    @background(exclusive=True)
    async def set_status(self, status: str) -> None:
        try:
            await self.desk.set_followup_status(self.item["id"], status)
        except FieldkitError as exc:
            self.query_one("#task-error", Static).update(_(str(exc)))
            return
        self.notify(_("Now {status}.").format(status=word(status)))
        self.dismiss(True)
