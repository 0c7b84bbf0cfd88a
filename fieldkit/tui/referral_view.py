"""One referral, opened from the tracker or the chart: the request, the patient as they were when
referred (allergies always in view above the rest), every event with who, when and where, and
the events two laptops disagree on.

F5 records what happened next, offered only as the transition table allows (referral_event.py);
F6 prints the letter; F8 lets a supervisor settle contradicting events; F3 opens the patient's
chart. Opening a referral is audited, as opening a chart is.
"""

from __future__ import annotations

from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static

from fieldkit.errors import FieldkitError
from fieldkit.i18n import N_, _, day, moment, ngettext, number
from fieldkit.permissions import Write, may_write
from fieldkit.records import facilities
from fieldkit.records.referral_lists import AWAITING_ARRIVAL
from fieldkit.records.referrals import NO_KNOWN_ALLERGIES
from fieldkit.tui.base import ClinicScreen, background
from fieldkit.tui.commands import ScreenActions
from fieldkit.tui.encounter_view import readings, score_line
from fieldkit.tui.messages import OpenChart
from fieldkit.tui.referral_event import FORMS, EventChooser, EventForm, LetterForm, SettleForm, offered, side_line
from fieldkit.tui.status import StatusBar
from fieldkit.tui.words import word

DETAILS = ("board_reference", "reason", "redirected_to", "findings", "diagnosis", "treatment", "recommendations",
           "follow_up", "note")
LABELS = {name: label for fields in FORMS.values() for name, label, _kind in fields}


def _listed(code: str, listed: bool = True) -> str:
    name = facilities.name_of(code)
    unlisted = _("(unlisted)")  # outside the f-string, where the catalogue's extractor finds it
    return name if listed else f"{name} {unlisted}"


def request_text(referral: dict[str, Any], today: date | None = None) -> str:
    """What was asked: of which kind, how urgent, from where to where, why, and by when."""
    lines = [_("{kind} · {urgency} · {status}").format(kind=word(referral["kind"]), urgency=word(referral["urgency"]),
                                                      status=word(referral["status"]))]
    destination = _listed(referral["to_facility"], referral["listed"])
    if referral.get("to_service"):
        destination += f", {referral['to_service']}"
    lines.append(_("from {origin} to {destination}").format(origin=referral["from_name"], destination=destination)
                 if referral.get("from_name") else _("to {destination}").format(destination=destination))
    reason = " ".join(part for part in (referral.get("reason_code"), referral.get("reason")) if part)
    lines.append(_("Reason: {reason}").format(reason=reason or "-"))
    if referral.get("expected_by"):
        expected = _("Expected by {day}").format(day=day(referral["expected_by"]))
        late = ((today or date.today()) - date.fromisoformat(referral["expected_by"])).days
        if late > 0 and referral["status"] in AWAITING_ARRIVAL:
            expected += " · " + ngettext("{n} day overdue", "{n} days overdue", late).format(n=number(late))
        lines.append(expected)
    if referral.get("needs_approval"):
        lines.append(_("needs the board's approval"))
    return "\n".join(lines)


def allergy_line(snapshot: dict[str, Any]) -> tuple[str, bool]:
    """The allergies as the referral carries them, and whether there are any to warn of."""
    found = snapshot.get("allergies") or []
    if found == [NO_KNOWN_ALLERGIES]:
        return _("No known allergies (asked when referred)"), False
    if not found:
        return _("Allergies not recorded when referred"), True
    return _("ALLERGIES: {list}").format(list=", ".join(found)), True


def snapshot_text(snapshot: dict[str, Any]) -> str:
    """The patient as the referrer saw them: readings and scores, diagnoses, medicines, history, tests."""
    lines = [_("Readings: {list}").format(list=" · ".join(readings(snapshot.get("vitals") or {})) or _("none"))]
    news2 = snapshot.get("news2") or {}
    if news2.get("total") is not None:
        lines.append(score_line("NEWS2", news2))
    if snapshot.get("qsofa") is not None:
        lines.append(f"qSOFA {number(snapshot['qsofa'])}")
    diagnoses = [" ".join(part for part in (d.get("code"), d.get("text")) if part) for d in snapshot.get("diagnoses", [])]
    lines.append(_("Diagnoses: {list}").format(list="; ".join(diagnoses) or _("none")))
    medicines = [_("none known") if m == NO_KNOWN_ALLERGIES else m for m in snapshot.get("medicines", [])]
    lines.append(_("Medicines: {list}").format(list="; ".join(medicines) or _("none")))
    if snapshot.get("history"):
        lines.append(_("History: {text}").format(text=snapshot["history"]))
    if snapshot.get("tests_done"):
        lines.append(_("Tests done: {text}").format(text=snapshot["tests_done"]))
    return "\n".join(lines)


def _detail(name: str, value: Any) -> str:
    if name == "follow_up":
        value = day(value)
    elif name == "redirected_to":
        value = facilities.name_of(value)
    elif name == "reason":
        value = word(value)
    return f"    {_(LABELS.get(name, name))}: {value}"


def events_text(referral: dict[str, Any]) -> str:
    """Each event, oldest first: what, when, who, where; marked when two laptops dispute it or
    it did not move the referral; then what it said."""
    disputed = {side["event"] for conflict in referral["conflicts"] for side in conflict["candidates"]}
    kinds = {event["id"]: event["type"] for event in referral["events"]}
    lines = []
    for event in referral["events"]:
        where = facilities.name_of(event.get("facility", ""))
        line = " · ".join(part for part in (f"{moment(event['at'][:16])}  {word(event['type'])}",
                                            event.get("author_name") or event["author"][:8], where) if part)
        if event["id"] in disputed:
            line += "  " + _("[DISPUTED]")
        elif not event["applied"] and event["type"] != "resolve":
            line += "  " + _("[not applied]")
        lines.append(line)
        if event["type"] == "resolve":
            lines.append("    " + _("{event} stands: {reason}").format(event=word(kinds.get(event.get("chosen", ""))),
                                                                       reason=event.get("reason", "")))
            continue
        lines += [_detail(name, event[name]) for name in DETAILS if event.get(name)]
        if event.get("travel"):
            lines.append("    " + _("patient should come in person"))
    return "\n".join(lines) or _("No event yet")


def conflicts_text(referral: dict[str, Any]) -> str:
    lines = []
    for conflict in referral["conflicts"]:
        lines.append(_("DISPUTED: two laptops recorded events that contradict each other; a supervisor decides (F8)"))
        lines += [f"  {n}. {side_line(side)}" for n, side in enumerate(conflict["candidates"], 1)]
    return "\n".join(lines)


# The referral's actions for the palette (ctrl+p), each with its key.
ACTIONS = (
    (N_("Record an event"), N_("sent, arrived, feedback… as the referral allows (F5)"), "record_event"),
    (N_("Print the letter"), N_("a PDF written where you say (F6)"), "letter"),
    (N_("Settle contradicting events"), N_("a supervisor chooses the event that stands (F8)"), "settle"),
    (N_("Open the patient's chart"), "F3", "chart"),
)


class ReferralActions(ScreenActions):
    ACTIONS = ACTIONS



class ReferralScreen(ClinicScreen):
    COMMANDS = {ReferralActions}
    DEFAULT_CSS = """
    ReferralScreen #referral { height: 1fr; padding: 0 1; }
    ReferralScreen #referral-allergies { padding: 0 1; }
    ReferralScreen #referral-allergies.alert { text-style: bold reverse; color: $error; }
    ReferralScreen #referral .title { padding: 0; margin: 1 0 0 0; }
    ReferralScreen #referral-error { height: auto; }
    ReferralScreen #referral-conflicts { padding: 0; margin: 0 0 1 0; }
    """
    BINDINGS = [
        Binding("f5", "record_event", N_("Record event"), id="record-event"),
        Binding("f6", "letter", N_("Letter"), id="print-letter"),
        Binding("f8", "settle", N_("Settle"), id="settle-referral"),
        Binding("f3", "chart", N_("Chart"), id="open-chart", show=False),  # ^p lists it: Lock must fit at 80 columns
        Binding("escape", "app.pop_screen", N_("Back"), id="back"),
        Binding("f12", "app.lock", N_("Lock"), id="lock"),
    ]

    def __init__(self, referral_id: str) -> None:
        super().__init__()
        self.referral_id = referral_id
        self.referral: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar()
        # What the record says is shown as written, never read as markup ("[DISPUTED]", a name in brackets).
        yield Static(_("opening…"), id="referral-title", classes="title", markup=False)
        yield Static(id="referral-allergies", markup=False)
        with VerticalScroll(id="referral"):
            yield Static(id="referral-conflicts", classes="warning", markup=False)
            yield Static(id="referral-request", markup=False)
            yield Static(_("When referred"), classes="title")
            yield Static(id="referral-snapshot", markup=False)
            yield Static(_("Events"), classes="title")
            yield Static(id="referral-events", markup=False)
        yield Static("", id="referral-error", classes="error", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#referral").focus()
        self.load()

    @background(exclusive=True)
    async def load(self) -> None:
        await self.show()

    async def show(self) -> None:
        referral = self.referral = await self.desk.referral(self.referral_id)
        if referral is None:
            self.query_one("#referral-title", Static).update(_("no referral with id {id}").format(id=self.referral_id))
            return
        self.query_one("#referral-title", Static).update(
            _("Referral {number}: {patient}").format(number=referral.get("number") or "", patient=referral["patient_name"]))
        allergies, warn = allergy_line(referral["snapshot"])
        self.query_one("#referral-allergies", Static).update(allergies)
        self.query_one("#referral-allergies").set_class(warn, "alert")
        self.query_one("#referral-request", Static).update(request_text(referral))
        self.query_one("#referral-snapshot", Static).update(snapshot_text(referral["snapshot"]))
        self.query_one("#referral-events", Static).update(events_text(referral))
        self.query_one("#referral-conflicts", Static).update(conflicts_text(referral))
        self.query_one("#referral-conflicts").display = bool(referral["conflicts"])
        self.refresh_bindings()

    # -- what can be done ----------------------------------------------------------------------

    @property
    def role(self) -> str:
        return self.desk.user.role

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        referral = self.referral
        if action == "record_event":
            return referral is not None and bool(offered(referral["status"], self.role))
        if action == "letter":
            return (referral is not None and hasattr(self.desk, "print_letter")
                    and self.role in may_write(Write("referral_event", "issued")))
        if action == "settle":
            return (referral is not None and bool(referral["conflicts"])
                    and self.role in may_write(Write("referral_event", "resolve", resolves=True)))
        if action == "chart":
            return referral is not None
        return True

    def said(self, text: str) -> None:
        self.query_one("#referral-error", Static).update(text)

    def action_record_event(self) -> None:
        if self.referral is None:
            return
        line = _("Now {status}. What happened?").format(status=word(self.referral["status"]))
        self.app.push_screen(EventChooser(line, offered(self.referral["status"], self.role)), callback=self._chosen)

    def _chosen(self, event: str | None) -> None:
        if not event or self.referral is None:
            return
        if event in FORMS:
            save = partial(self.desk.referral_event, self.referral_id)
            self.app.push_screen(EventForm(self.referral, event, save), callback=self._recorded)
        else:
            self.record({"type": event})

    @background(exclusive=True, group="record")
    async def record(self, details: dict[str, Any]) -> None:
        try:
            started = await self.desk.referral_event(self.referral_id, details)
        except FieldkitError as exc:
            self.said(_(str(exc)))
            return
        self._recorded({"saved": True, "started": started})

    def _recorded(self, result: dict[str, Any] | None) -> None:
        if not result:
            return
        self.said("")
        if result.get("started"):
            self.notify(_("A follow-on referral was started: it is in the tracker's list to send."))
        self.reload_and_say()

    @background(exclusive=True)
    async def reload_and_say(self) -> None:
        await self.show()
        if self.referral is not None:
            self.notify(_("Now {status}.").format(status=word(self.referral["status"])))

    def action_letter(self) -> None:
        if self.referral is not None and self.check_action("letter", ()):
            self.app.push_screen(LetterForm(self.referral, self._write_letter), callback=self._written)

    async def _write_letter(self, kind: str, path: str) -> Any:
        # The letters' Desk method (fieldkit.letters); the key is shown only where the desk has it.
        print_letter = getattr(self.desk, "print_letter", None)
        return await print_letter(self.referral_id, kind, Path(path)) if print_letter else None

    def _written(self, path: str | None) -> None:
        if path:
            self.notify(_("Letter written: {path}").format(path=path))
            self.load()

    def action_settle(self) -> None:
        if self.referral is not None and self.referral["conflicts"]:
            self.app.push_screen(SettleForm(self.referral["conflicts"][0], self._settle), callback=self._settled)

    async def _settle(self, chosen: str, reason: str) -> None:
        await self.desk.resolve_referral(self.referral["conflicts"][0]["id"] if self.referral else "", chosen, reason)

    def _settled(self, saved: bool | None) -> None:
        if saved:
            self.reload_and_say()

    def action_chart(self) -> None:
        from fieldkit.tui.chart import ChartScreen

        if self.referral is None:
            return
        patient = self.referral["patient_id"]
        below = self.app.screen_stack[-2] if len(self.app.screen_stack) > 1 else None
        if isinstance(below, ChartScreen) and below.patient_id == patient:
            self.app.pop_screen()
        else:
            self.post_message(OpenChart(patient))
