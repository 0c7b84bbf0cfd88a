"""What is recorded on a referral, as small dialogs over the referral screen.

`EventChooser` offers only the events the transition table allows from the referral's status
(and the user's role may record). Those that say more than their type get a form, F2 saving:
the board's decision its reference; not attended one of the fixed reasons (and a note for
"other"); a redirection the facility; the specialist's feedback the findings, diagnosis,
treatment, recommendations and follow-up day, and for an e-consultation whether the patient should
come in person. `SettleForm` is the supervisor's choice between two contradicting events, and
`LetterForm` writes the letter where the user says. A refusal is one line under the form and
nothing is saved.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from fieldkit.errors import FieldkitError
from fieldkit.i18n import N_, _, moment
from fieldkit.permissions import Write, may_write
from fieldkit.store.lifecycle import EVENTS, NOT_ATTENDED_REASONS, next_status
from fieldkit.tui.base import Translated, background
from fieldkit.tui.encounter import Tick
from fieldkit.tui.refer import facility_note, facility_suggester
from fieldkit.tui.status import StatusBar
from fieldkit.tui.words import word

# Each event as a choice; "…" where a form asks what it needs.
CHOICES = {
    "approved": N_("Approved by the board…"), "declined": N_("Declined by the board…"),
    "issued": N_("Letter issued"), "sent": N_("Sent: the patient went or was sent"),
    "acknowledged": N_("Acknowledged by the facility"), "arrived": N_("Arrived at the facility"),
    "feedback": N_("Feedback from the specialist…"), "completed": N_("Completed"), "cancelled": N_("Cancelled"),
    "redirected": N_("Redirected to another facility…"), "not_attended": N_("Not attended…"),
    "lost": N_("Lost to follow-up"),
}
# What each form asks, as (field, label, kind): kind "text", "day", "facility", "reason" or "tick".
NOTE = ("note", N_("Note"), "text")
FORMS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "approved": (("board_reference", N_("Board reference"), "text"), NOTE),
    "declined": (("board_reference", N_("Board reference"), "text"), NOTE),
    "not_attended": (("reason", N_("Why not attended"), "reason"), NOTE),
    "redirected": (("redirected_to", N_("Redirected to"), "facility"), NOTE),
    "feedback": (("findings", N_("Findings"), "text"), ("diagnosis", N_("Diagnosis"), "text"),
                 ("treatment", N_("Treatment given"), "text"), ("recommendations", N_("Recommendations"), "text"),
                 ("follow_up", N_("Follow-up day"), "day"),
                 ("travel", N_("patient should come in person"), "tick")),
}
TITLES = {"approved": N_("The board approved: its reference"), "declined": N_("The board declined: its reference"),
          "not_attended": N_("Not attended: why"), "redirected": N_("Redirected: to which facility"),
          "feedback": N_("The specialist's feedback")}


def offered(status: str, role: str) -> list[str]:
    """The events that may follow `status`, in the table's order, that `role` may record."""
    return [event for event in EVENTS
            if next_status(status, event) is not None and role in may_write(Write("referral_event", event))]


DIALOG_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{ width: 76; max-width: 100%; height: auto; max-height: 100%; border: round $primary;
    padding: 0 1; background: $surface; }}
{name} Grid {{ grid-size: 2; grid-columns: 24 1fr; grid-rows: auto; grid-gutter: 0 1; height: auto; margin: 1 0 0 0; }}
{name} OptionList {{ height: auto; max-height: 14; margin: 1 0 0 0; }}
{name} .error {{ height: auto; padding: 0; }}
"""


class EventChooser(Translated, ModalScreen[str | None]):
    """Dismissed with the event chosen, None on Esc."""

    DEFAULT_CSS = DIALOG_CSS.format(name="EventChooser")
    BINDINGS = [
        Binding("escape", "dismiss(None)", N_("Back"), id="back"),
        Binding("f12", "app.lock", N_("Lock"), id="lock"),
    ]

    def __init__(self, line: str, events: list[str]) -> None:
        super().__init__()
        self.line, self.events = line, events

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with Vertical():
            yield Static(self.line)
            yield OptionList(*(Option(_(CHOICES[event]), id=event) for event in self.events), id="events")
        yield Footer()

    @on(OptionList.OptionSelected, "#events")
    def chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


class Dialog(Translated, ModalScreen[Any]):
    """A small form over the referral: F2 runs `save`, whose refusal is said in one line."""

    BINDINGS = [
        Binding("f2", "save", N_("Save"), id="save", priority=True),
        Binding("escape", "dismiss(None)", N_("Cancel"), id="cancel"),
        Binding("f12", "app.lock", N_("Lock"), id="lock"),
    ]

    def on_input_submitted(self) -> None:
        self.focus_next()

    def action_save(self) -> None:
        self.save()

    async def saved(self) -> Any:
        raise NotImplementedError

    @background(exclusive=True)
    async def save(self) -> None:
        try:
            result = await self.saved()
        except FieldkitError as exc:
            self.query_one(".error", Static).update(_(str(exc)))
            return
        self.dismiss(result)


class EventForm(Dialog):
    """The details one event needs; dismissed with {"saved": True, "started": id of a referral it
    started, or None} once saved, None on Esc."""

    DEFAULT_CSS = DIALOG_CSS.format(name="EventForm") + "EventForm #facility-note { color: $text-muted; }"

    def __init__(self, referral: dict[str, Any], event: str, save: Callable[[dict[str, Any]], Awaitable[str | None]]) -> None:
        super().__init__()
        self.referral, self.event, self.save_event = referral, event, save
        self.fields = [f for f in FORMS[event] if f[2] != "tick" or referral.get("kind") == "econsult"]

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with Vertical():
            yield Static(_(TITLES[self.event]), classes="title")
            with Grid():
                for name, label, kind in self.fields:
                    if kind == "tick":
                        yield Label("")
                        yield Tick(_(label), id=name, compact=True)
                        continue
                    yield Label(_(label))
                    if kind == "reason":
                        yield Select([(word(reason), reason) for reason in NOT_ATTENDED_REASONS], id=name, compact=True,
                                     prompt=_("choose…"))
                    else:
                        yield Input(id=name, compact=True, placeholder=_("day/month/year") if kind == "day" else "")
                    if kind == "facility":
                        yield Label("")
                        yield Label("", id="facility-note")
            yield Static("", classes="error", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        for name, _label, kind in self.fields:
            if kind == "facility":
                self.query_one(f"#{name}", Input).suggester = facility_suggester()
        self.query_one(Grid).query("Input, Select").first().focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "redirected_to":
            self.query_one("#facility-note", Label).update(facility_note(event.value))

    def details(self) -> dict[str, Any]:
        found: dict[str, Any] = {"type": self.event}
        for name, _label, kind in self.fields:
            if kind == "tick":
                found[name] = self.query_one(f"#{name}", Tick).value
            elif kind == "reason":
                value = self.query_one(f"#{name}", Select).value
                if not isinstance(value, str):  # the list on screen is the reasons: said as such, not as codes
                    raise FieldkitError(_("why was it not attended? choose one of the reasons"))
                found[name] = value
            else:
                found[name] = self.query_one(f"#{name}", Input).value
        return found

    async def saved(self) -> dict[str, Any]:
        return {"saved": True, "started": await self.save_event(self.details())}


class SettleForm(Dialog):
    """A supervisor names the event that stands (both stay in the record), with a reason."""

    DEFAULT_CSS = DIALOG_CSS.format(name="SettleForm")

    def __init__(self, conflict: dict[str, Any], save: Callable[[str, str], Awaitable[None]]) -> None:
        super().__init__()
        self.conflict, self.settle = conflict, save

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with Vertical():
            yield Static(_("Two laptops recorded events that contradict each other. Which one stands?"))
            yield OptionList(*(Option(side_line(side), id=side["event"]) for side in self.conflict["candidates"]),
                             id="sides")
            yield Input(placeholder=_("Reason (required, journalled with the decision)"), id="reason", compact=True)
            yield Static("", classes="error", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#sides", OptionList).focus()

    @on(OptionList.OptionSelected, "#sides")
    def picked(self) -> None:
        self.query_one("#reason", Input).focus()

    async def saved(self) -> bool:
        sides = self.query_one("#sides", OptionList)
        if sides.highlighted is None:
            raise FieldkitError(_("choose one of the conflicting events"))
        chosen = sides.get_option_at_index(sides.highlighted).id or ""
        await self.settle(chosen, self.query_one("#reason", Input).value)
        return True


def side_line(side: dict[str, Any]) -> str:
    """One of two contradicting events: what, by whom, when."""
    from fieldkit.records.queries import when

    return _("{event} by {author} at {time}").format(event=word(side["value"]),
                                                     author=side.get("author_name") or side.get("author", "")[:8],
                                                     time=moment(when(side["ver"])[:16]))


LETTERS = (("referral", N_("Referral letter")), ("treatment", N_("Treatment letter (after the board)")))


class LetterForm(Dialog):
    """Where to write the letter (a path, shown for editing) and which letter; dismissed with
    the path written, None on Esc."""

    DEFAULT_CSS = DIALOG_CSS.format(name="LetterForm")

    def __init__(self, referral: dict[str, Any], write: Callable[[str, str], Awaitable[Any]]) -> None:
        super().__init__()
        self.referral, self.write = referral, write

    def compose(self) -> ComposeResult:
        number = self.referral.get("number") or self.referral["id"]
        kind = "treatment" if self.referral.get("needs_approval") else "referral"
        yield StatusBar()
        with Vertical():
            yield Static(_("Print the letter as a PDF file"), classes="title")
            with Grid():
                yield Label(_("Letter"))
                yield Select([(_(label), name) for name, label in LETTERS], value=kind, allow_blank=False, id="letter",
                             compact=True)
                yield Label(_("Write it to"))
                yield Input(os.path.join("~", "letters", f"{number}.pdf"), id="path", compact=True)
            yield Static("", classes="error", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#path", Input).focus()

    async def saved(self) -> str:
        path = self.query_one("#path", Input).value.strip()
        if not path:
            raise FieldkitError(_("say where to write the letter"))
        kind = self.query_one("#letter", Select).value
        return str(await self.write(str(kind), path) or path)
