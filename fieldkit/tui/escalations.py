"""A doctor takes on a red check-in: transfer to hospital, or keep the patient at home and say why.

1 chooses the transfer: where to (a listed facility's name or code, suggested as it is typed;
an unlisted one is kept as typed) and why; F2 creates an urgent transfer referral linked to the
check-in and pauses the enrolment while the patient is in hospital. 2 keeps the patient at home
with a note. Esc goes back with nothing saved, and the check-in keeps waiting in the list.
Digits choose, so it works on an Arabic or Persian layout.
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.events import Key
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Footer, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from fieldkit.errors import FieldkitError
from fieldkit.i18n import N_, _, day, digits
from fieldkit.permissions import allowed
from fieldkit.records import facilities
from fieldkit.text import ascii_digits
from fieldkit.tui.base import Translated, background
from fieldkit.tui.desk import off_loop
from fieldkit.tui.status import StatusBar

TRANSFER, HOME = "transfer", "home"


def facility_words() -> list[str]:
    """What a facility may be typed as: every listed name, then every code."""
    listed = facilities.load().values()
    return [f.name for f in listed] + [f.code for f in listed]


class EscalationScreen(Translated, ModalScreen[bool]):
    """`escalation` as programme_lists.escalations gives it (id, patient_name, day, reasons)."""

    DEFAULT_CSS = """
    EscalationScreen { align: center middle; }
    #escalation { width: 76; max-width: 100%; height: auto; border: thick $error; padding: 0 1; background: $surface; }
    #escalation OptionList { height: auto; margin: 1 0 0 0; }
    #escalation Input { margin: 1 0 0 0; }
    #escalation-error { width: 100%; height: auto; }
    """
    BINDINGS = [
        Binding("f2", "save", N_("Save"), id="save", priority=True),
        Binding("escape", "dismiss(False)", N_("Back (not saved)"), id="escalation-back"),
        Binding("f12", "app.lock", N_("Lock"), id="lock"),
    ]

    def __init__(self, escalation: dict[str, Any]) -> None:
        super().__init__()
        self.escalation = escalation
        self.choice = ""

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with Vertical(id="escalation"):
            yield Static(_("Red check-in: {patient}, {day}").format(
                patient=self.escalation["patient_name"], day=day(self.escalation["day"])), classes="title")
            yield Static("\n".join(self.escalation.get("reasons") or ()), id="escalation-reasons")
            yield OptionList(
                Option(digits("1") + "  " + _("Transfer to hospital (urgent referral)"), id=TRANSFER),
                Option(digits("2") + "  " + _("Keep at home, noting why"), id=HOME),
                id="escalation-choice")
            yield Input(placeholder=_("Hospital: a listed name or code (→ completes)"), id="to_facility", compact=True)
            yield Input(placeholder=_("Reason for the transfer"), id="transfer_reason", compact=True)
            yield Input(placeholder=_("Why the patient stays at home, then Enter"), id="home_note", compact=True)
            yield Label("", id="escalation-error", classes="error")
        yield Footer()

    def on_mount(self) -> None:
        for field in ("#to_facility", "#transfer_reason", "#home_note"):
            self.query_one(field).display = False
        self.query_one("#escalation-choice", OptionList).highlighted = 0
        self.query_one("#escalation-choice").focus()
        if not allowed(self.desk.user.role, "refer"):
            self._error(_("Only a clinician or a supervisor takes on an escalation."))
        self.suggest()

    @background(group="facilities")
    async def suggest(self) -> None:
        words = await off_loop(facility_words)
        self.query_one("#to_facility", Input).suggester = SuggestFromList(words, case_sensitive=False)

    def on_key(self, event: Key) -> None:
        if isinstance(self.focused, Input) or not event.character:
            return
        choice = {"1": TRANSFER, "2": HOME}.get(ascii_digits(event.character))
        if choice:
            event.stop()
            self.choose(choice)

    @on(OptionList.OptionSelected, "#escalation-choice")
    def selected(self, event: OptionList.OptionSelected) -> None:
        self.choose(event.option.id or "")

    def choose(self, choice: str) -> None:
        self.choice = choice
        self._error("")
        for field, shown in (("#to_facility", TRANSFER), ("#transfer_reason", TRANSFER), ("#home_note", HOME)):
            self.query_one(field).display = choice == shown
        self.query_one("#to_facility" if choice == TRANSFER else "#home_note").focus()

    @on(Input.Submitted, "#home_note")
    @on(Input.Submitted, "#transfer_reason")
    def submitted(self) -> None:
        self.action_save()

    @on(Input.Submitted, "#to_facility")
    def to_reason(self) -> None:
        self.query_one("#transfer_reason").focus()

    def action_save(self) -> None:
        if not self.choice:
            self._error(_("Choose 1 (transfer) or 2 (keep at home)."))
            return
        self.save()

    def _error(self, line: str) -> None:
        self.query_one("#escalation-error", Label).update(line)

    @background(exclusive=True)
    async def save(self) -> None:
        checkin_id = self.escalation["id"]
        try:
            if self.choice == TRANSFER:
                facility = self.query_one("#to_facility", Input).value.strip()
                if not facility:
                    raise FieldkitError(_("type the hospital the patient is transferred to"))
                await self.desk.transfer(checkin_id, facility, self.query_one("#transfer_reason", Input).value)
                listed = await off_loop(facilities.find, facility)
                said = _("Urgent transfer to {facility} recorded; the enrolment is paused while in hospital.").format(
                    facility=listed.name if listed else facility)
            else:
                await self.desk.no_transfer(checkin_id, self.query_one("#home_note", Input).value)
                said = _("Kept at home; the note is saved with the check-in.")
        except FieldkitError as exc:
            self._error(_(str(exc)))
            return
        self.notify(said, timeout=8)
        self.dismiss(True)
