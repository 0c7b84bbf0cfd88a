"""The signed-in user's settings: language, the laptop's right-to-left render mode, a session PIN.

The language is the user's own (kept in the key slots, so sign-in speaks it before the database
opens). The render mode belongs to the laptop's terminal, so it is chosen on a test card: the
same lines drawn each way, and the user picks the one that reads right. The PIN lives only as
long as this run of the app.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Input, Label, Select, Static

from fieldkit.errors import FieldkitError
from fieldkit.i18n import LANGUAGES, N_, _, digits, language
from fieldkit.text import ascii_digits
from fieldkit.tui import rtl
from fieldkit.tui.base import ClinicScreen
from fieldkit.tui.messages import LanguageChosen, LockAfterChosen, PinChosen, RtlChosen
from fieldkit.tui.pin import Pin
from fieldkit.tui.status import StatusBar

MAX_LOCK_MINUTES = 120
MODE_NAMES = {"terminal": N_("the terminal lays it out"), "app": N_("fieldkit lays it out"),
              "words": N_("fieldkit orders the words, the terminal joins the letters")}


def test_card() -> str:
    """Each render mode's drawing of the same lines, numbered for choosing."""
    blocks = []
    for number, mode in enumerate(rtl.MODES, start=1):
        lines = "\n".join(f"    {rtl.render(line, mode)}" for line in rtl.TEST_CARD)
        current = "  " + _("(now)") if mode == rtl.mode() else ""
        blocks.append(f"{number}. {_(MODE_NAMES[mode])}{current}\n{lines}")
    return "\n".join(blocks)


class SettingsScreen(ClinicScreen):
    BINDINGS = [
        Binding("f2", "set_pin", N_("Set PIN"), id="set-pin", priority=True),
        Binding("escape", "app.pop_screen", N_("Back"), id="back"),
        Binding("f12", "app.lock", N_("Lock"), id="lock"),
    ]
    AUTO_FOCUS = "#language"

    def __init__(self, lock_after_minutes: int) -> None:
        super().__init__()
        self.lock_after_minutes = lock_after_minutes

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with VerticalScroll(id="settings"):
            yield Static(_("Language"), classes="title")
            yield Select([(name, code) for code, name in LANGUAGES.items()], value=language(),
                         allow_blank=False, id="language", compact=True)
            yield Static(_("Right-to-left test card: which block reads correctly?"), classes="title")
            yield rtl.LaidOut(test_card(), id="test-card")
            yield Input(placeholder=_("Type 1, 2 or 3 and Enter"), id="rtl-mode", compact=True, max_length=1)
            yield Static(_("Lock after this many minutes without a key (1 to 120), then Enter"),
                         classes="title")
            yield Input(str(self.lock_after_minutes), id="lock-after", compact=True, max_length=3)
            yield Static(_("PIN to unlock the screen while the app runs"), classes="title")
            yield Input(placeholder=_("4 to 6 digits"), password=True, id="pin", compact=True)
            yield Input(placeholder=_("the same PIN again, then F2"), password=True, id="pin-again", compact=True)
            yield Label("", id="settings-error", classes="error")
        yield Footer()

    @on(Select.Changed, "#language")
    def language_chosen(self, event: Select.Changed) -> None:
        if isinstance(event.value, str) and event.value != language():
            self.post_message(LanguageChosen(event.value))

    @on(Input.Submitted, "#rtl-mode")
    def mode_chosen(self, event: Input.Submitted) -> None:
        choice = ascii_digits(event.value.strip())
        if choice not in {"1", "2", "3"}:
            self.query_one("#settings-error", Label).update(_("choose 1, 2 or 3"))
            return
        self.post_message(RtlChosen(rtl.MODES[int(choice) - 1]))

    @on(Input.Submitted, "#lock-after")
    def lock_after_chosen(self, event: Input.Submitted) -> None:
        typed = ascii_digits(event.value.strip())
        if not typed.isdigit() or not 1 <= int(typed) <= MAX_LOCK_MINUTES:
            self.query_one("#settings-error", Label).update(_("lock after 1 to 120 minutes"))
            return
        self.post_message(LockAfterChosen(int(typed)))
        self.query_one("#settings-error", Label).update("")
        self.notify(_("The screen locks after {n} minutes without a key.").format(n=digits(typed)))

    @on(Input.Submitted, "#pin-again")
    def action_set_pin(self) -> None:
        error = self.query_one("#settings-error", Label)
        pin, again = self.query_one("#pin", Input), self.query_one("#pin-again", Input)
        try:
            if pin.value != again.value:
                raise FieldkitError(_("the two PINs differ"))
            self.post_message(PinChosen(Pin(pin.value)))
        except FieldkitError as exc:
            error.update(str(exc))
            return
        finally:
            pin.value = again.value = ""
        error.update("")
        self.notify(_("PIN set until the app is closed."))
