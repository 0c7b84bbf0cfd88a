"""Referring a patient from the chart (F9): a referral, an e-consultation or a transfer, F2 saves.

The destination is typed with the facility list's names and codes suggested as you type (Right
takes the suggestion); one not on the list is kept as typed and said to be unlisted, so a patient is
never left unreferred for want of a list entry. The service is suggested from the destination's
services. The snapshot the referral carries (vitals, scores, diagnoses, allergies) is taken from
the patient's latest encounter. A refusal is said in one line under the form and nothing is saved.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, VerticalScroll
from textual.suggester import Suggester, SuggestFromList
from textual.widgets import Footer, Input, Label, Select, Static

from fieldkit.errors import FieldkitError
from fieldkit.i18n import N_, _
from fieldkit.records import facilities
from fieldkit.records.names import full_name
from fieldkit.tui.base import ClinicScreen, background
from fieldkit.tui.encounter import URGENCIES, Tick
from fieldkit.tui.status import StatusBar
from fieldkit.tui.words import word

KINDS = ("referral", "econsult", "transfer")
TYPED = (("to_facility", N_("To (facility)")), ("to_service", N_("Service")), ("reason", N_("Reason")),
         ("reason_code", N_("ICD-10 code")), ("history", N_("Brief history")), ("tests_done", N_("Tests done")),
         ("medicines", N_("Medicines, comma-separated")))


def facility_suggester() -> Suggester:
    """Every listed facility's name and code, completed as typed, in any case."""
    listed = facilities.load().values()
    return SuggestFromList([f.name for f in listed] + [f.code for f in listed], case_sensitive=False)


def facility_note(typed: str) -> str:
    """Which listed facility the typed text names, or that it is kept as typed."""
    if not typed.strip():
        return ""
    listed = facilities.find(typed)
    if listed is None:
        return _("not on the facility list: kept as typed")
    return f"{listed.name} ({listed.code})"


class Services(Suggester):
    """The services of the facility typed in the field `facility` of the same screen."""

    def __init__(self, facility: Input) -> None:
        super().__init__(use_cache=False, case_sensitive=False)
        self.facility = facility

    async def get_suggestion(self, value: str) -> str | None:
        listed = facilities.find(self.facility.value)
        for service in listed.services if listed else ():
            if service.casefold().startswith(value) and value:
                return service
        return None


class ReferScreen(ClinicScreen):
    DEFAULT_CSS = """
    ReferScreen #refer-form { height: 1fr; }
    ReferScreen .readings { grid-size: 2; grid-columns: 30 1fr; grid-rows: auto; grid-gutter: 0 1; height: auto; }
    ReferScreen .readings Label { padding: 0 1; width: 1fr; }
    ReferScreen #refer-ticks { height: auto; padding: 0 1; }
    ReferScreen #refer-error { height: auto; }
    """
    BINDINGS = [
        Binding("f2", "save", N_("Save"), id="save", priority=True),
        Binding("escape", "app.pop_screen", N_("Back"), id="back"),
        Binding("f12", "app.lock", N_("Lock"), id="lock"),
    ]

    def __init__(self, patient_id: str, record: dict[str, Any]) -> None:
        super().__init__()
        self.patient_id = patient_id
        self.title_line = _("Refer {patient}").format(patient=full_name(record))
        if record.get("allergies"):
            self.title_line += "  " + _("ALLERGIES: {list}").format(list=", ".join(record["allergies"]))

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with VerticalScroll(id="refer-form"):
            yield Static(self.title_line, classes="title")
            with Grid(classes="readings"):
                yield Label(_("Kind"))
                yield Select([(word(kind), kind) for kind in KINDS], value="referral", allow_blank=False, id="kind",
                             compact=True)
                yield Label(_("Urgency"))
                yield Select([(word(urgency), urgency) for urgency in URGENCIES], value="routine", allow_blank=False,
                             id="urgency", compact=True)
                for name, label in TYPED:
                    yield Label(_(label))
                    yield Input(id=name, compact=True)
                    if name == "to_facility":
                        yield Label("")
                        yield Label("", id="to_facility-note", classes="note")
            with Grid(id="refer-ticks", classes="readings"):
                yield Tick(_("no known allergies"), id="no_known_allergies", compact=True)
                yield Tick(_("needs the board's approval"), id="needs_approval", compact=True)
        yield Static("", id="refer-error", classes="error", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        facility = self.query_one("#to_facility", Input)
        facility.suggester = facility_suggester()
        self.query_one("#to_service", Input).suggester = Services(facility)
        facility.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "to_facility":
            self.query_one("#to_facility-note", Label).update(facility_note(event.value))

    def on_input_submitted(self) -> None:
        self.focus_next()

    def request(self) -> dict[str, Any]:
        data: dict[str, Any] = {name: self.query_one(f"#{name}", Input).value for name, _label in TYPED}
        data |= {"patient_id": self.patient_id, "kind": self.query_one("#kind", Select).value,
                 "urgency": self.query_one("#urgency", Select).value,
                 "no_known_allergies": self.query_one("#no_known_allergies", Tick).value,
                 "needs_approval": self.query_one("#needs_approval", Tick).value}
        return data

    def action_save(self) -> None:
        self.save()

    @background(exclusive=True)
    async def save(self) -> None:
        error = self.query_one("#refer-error", Static)
        request = self.request()
        try:
            await self.desk.refer(request)
        except FieldkitError as exc:
            error.update(_(str(exc)))
            return
        listed = facilities.find(request["to_facility"])
        self.notify(_("Referred to {facility}.").format(facility=listed.name if listed else request["to_facility"]))
        self.dismiss()
