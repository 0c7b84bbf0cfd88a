"""The question a high NEWS2 asks before it is saved: escalate (an emergency referral) or say why not.

NEWS2 7 or more calls for an emergency response (RCP 2017); a form that saves it without a word
lets it pass unseen. This modal never blocks: one key refers, another saves with a line on why
not (a doctor already at the bedside, the family refused transfer), and Esc goes back to the form
with nothing saved. Digits choose, so it works on an Arabic or Persian layout; Arabic-Indic and
Persian digits count too.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.events import Key
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from fieldkit.i18n import N_, _, digits
from fieldkit.records.scores import Score
from fieldkit.text import ascii_digits
from fieldkit.tui.base import Translated
from fieldkit.tui.status import StatusBar

REFER, NOTE = "refer", "note"
HIGH = "high"  # NEWS2's band for 7 and over: emergency response


def needs_escalation(score: Score, urgency: str | None) -> bool:
    """A high NEWS2 with no urgent or emergency referral in the same encounter."""
    return score.band == HIGH and urgency not in ("urgent", "emergency")


class EscalateScreen(Translated, ModalScreen[tuple[str, str] | None]):
    """Returns (REFER, ""), (NOTE, why not), or None for back to the form."""

    DEFAULT_CSS = """
    EscalateScreen { align: center middle; }
    #escalate { width: 72; max-width: 100%; height: auto; border: thick $error; padding: 0 1; background: $surface; }
    #escalate OptionList { height: auto; margin: 1 0 0 0; }
    #escalate Input { margin: 1 0 0 0; }
    """
    BINDINGS = [
        Binding("escape", "dismiss_back", N_("Back to the form (not saved)"), id="escalate-back"),
        Binding("f12", "app.lock", N_("Lock"), id="lock"),
    ]

    def __init__(self, score: Score) -> None:
        super().__init__()
        self.score = score

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with Vertical(id="escalate"):
            score = self.score
            yield Static(f"{score.name} {digits(str(score.total))} {_(score.band)}: {_(score.response)}",
                         classes="title")
            yield Static(_("Escalate before saving: refer urgently, or note why not."))
            yield OptionList(
                Option(digits("1") + "  " + _("Refer as an emergency (then type where)"), id=REFER),
                Option(digits("2") + "  " + _("Save without referral, noting why"), id=NOTE),
                id="escalate-choice")
            yield Input(placeholder=_("Why not escalated (e.g. doctor at the bedside), then Enter"),
                        id="escalate-reason", compact=True)
            yield Label("", id="escalate-error", classes="error")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#escalate-reason").display = False
        self.query_one("#escalate-choice", OptionList).highlighted = 0
        self.query_one("#escalate-choice").focus()

    def action_dismiss_back(self) -> None:
        self.dismiss(None)

    def on_key(self, event: Key) -> None:
        if isinstance(self.focused, Input) or not event.character:
            return
        choice = {"1": REFER, "2": NOTE}.get(ascii_digits(event.character))
        if choice:
            event.stop()
            self.choose(choice)

    @on(OptionList.OptionSelected, "#escalate-choice")
    def selected(self, event: OptionList.OptionSelected) -> None:
        self.choose(event.option.id or "")

    def choose(self, choice: str) -> None:
        if choice == REFER:
            self.dismiss((REFER, ""))
            return
        reason = self.query_one("#escalate-reason", Input)
        reason.display = True
        reason.focus()

    @on(Input.Submitted, "#escalate-reason")
    def noted(self, event: Input.Submitted) -> None:
        why = event.value.strip()
        if not why:
            self.query_one("#escalate-error", Label).update(_("Type why it is not escalated, or Esc to go back."))
            return
        self.dismiss((NOTE, why))
