"""One question with a typed answer, saved by F2: a note that amends an encounter, the reason it
was entered in error, a follow-up's new day. The save runs the use case; a refusal is said in one
line under the answer and nothing changes, so the question stays open with what was typed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Static

from fieldkit.errors import FieldkitError
from fieldkit.i18n import N_, _
from fieldkit.tui.base import Translated, background
from fieldkit.tui.status import StatusBar


class Ask(Translated, ModalScreen[bool]):
    """Dismissed with True once `save(answer)` succeeded, False on Esc."""

    DEFAULT_CSS = """
    Ask { align: center middle; }
    #ask { width: 72; max-width: 100%; height: auto; border: round $primary; padding: 0 1; background: $surface; }
    #ask Input { margin: 1 0 0 0; }
    """
    BINDINGS = [
        Binding("f2", "save", N_("Save"), id="save", priority=True),
        Binding("escape", "cancel", N_("Cancel"), id="cancel"),
        Binding("f12", "app.lock", N_("Lock"), id="lock"),
    ]

    def __init__(self, question: str, save: Callable[[str], Awaitable[None]], *, value: str = "",
                 placeholder: str = "") -> None:
        super().__init__()
        self.question, self.value, self.placeholder = question, value, placeholder
        self.save_answer = save

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with Vertical(id="ask"):
            yield Static(self.question, id="ask-question")
            yield Input(self.value, placeholder=self.placeholder, id="answer", compact=True)
            yield Static("", id="ask-error", classes="error")
        yield Footer()

    def action_save(self) -> None:
        self.save()

    def action_cancel(self) -> None:
        self.dismiss(False)

    def on_input_submitted(self) -> None:
        self.save()

    @background(exclusive=True)
    async def save(self) -> None:
        try:
            await self.save_answer(self.query_one("#answer", Input).value)
        except FieldkitError as exc:
            self.query_one("#ask-error", Static).update(_(str(exc)))
            return
        self.dismiss(True)
