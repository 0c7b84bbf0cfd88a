"""Registering a patient, with likely duplicates shown before anything is saved.

F2 first looks for the same person registered already. If there are likely matches they are
listed with their reasons: Enter opens one, or a reason and F2 again registers anyway (the reason
is journalled with the registration, for whoever merges later). Never a block.
"""

from __future__ import annotations

from typing import Any

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, VerticalScroll
from textual.widgets import DataTable, Footer, Input, Label, Select, Static

from fieldkit.errors import FieldkitError
from fieldkit.i18n import N_, _, day, digits, language, ngettext
from fieldkit.records.dates import EXAMPLE
from fieldkit.records.models import Patient, estimated_birth
from fieldkit.records.names import NAME_ORDERS, usual_order
from fieldkit.records.problems import check
from fieldkit.text import split_list
from fieldkit.tui.base import ClinicScreen, background
from fieldkit.tui.messages import OpenChart
from fieldkit.tui.status import StatusBar
from fieldkit.tui.words import word

SEX = ("female", "male", "other", "unknown")
NAME_ORDER_WORDS = {"given-first": N_("given name first"), "family-first": N_("family name first")}
TEXT_FIELDS = (("given_name", N_("Given name")), ("other_names", N_("Other names")),
               ("family_name", N_("Family name")), ("birth_date", N_("Birth date")),
               ("age", N_("or age in years")), ("phone", N_("Phone")), ("locality", N_("Locality")),
               ("allergies", N_("Allergies, comma-separated")))


class RegisterScreen(ClinicScreen):
    # A refusal wraps under the form instead of running off the screen's edge.
    DEFAULT_CSS = "#register-error { width: 1fr; height: auto; }"
    BINDINGS = [
        Binding("f2", "save", N_("Save"), id="save", priority=True),
        Binding("escape", "app.pop_screen", N_("Back"), id="back"),
        Binding("f12", "app.lock", N_("Lock"), id="lock"),
    ]

    def __init__(self, typed: str = "") -> None:
        super().__init__()
        self.typed = typed if typed and not any(ch.isdigit() for ch in typed) else ""
        self.duplicates: list = []

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with VerticalScroll(id="register"):
            yield Static(_("Register a patient"), classes="title")
            with Grid(id="patient-form"):
                for name, label in TEXT_FIELDS:
                    yield Label(_(label))
                    yield Input(value=self.typed if name == "given_name" else "", id=name, compact=True,
                                placeholder=digits(EXAMPLE) if name == "birth_date" else "")
                yield Label(_("Sex"))
                yield Select([(word(sex), sex) for sex in SEX], value="unknown", allow_blank=False, id="sex", compact=True)
                yield Label(_("Name said"))
                yield Select([(_(NAME_ORDER_WORDS[order]), order) for order in NAME_ORDERS], value=usual_order(language()),
                             allow_blank=False, id="name_order", compact=True)
            yield Static("", id="duplicates-title", classes="warning")
            yield DataTable(id="duplicates", cursor_type="row")
            yield Input(placeholder=_("Why register anyway? (then F2)"), id="reason", compact=True, select_on_focus=False)
            yield Label("", id="register-error", classes="error")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#duplicates").display = self.query_one("#reason").display = False
        self.query_one("#duplicates", DataTable).add_columns(_("Name"), _("Born"), _("Why it may be the same"))
        self.query_one("#given_name").focus()

    def patient(self) -> dict[str, Any]:
        values = {name: self.query_one(f"#{name}", Input).value.strip() for name, _ in TEXT_FIELDS}
        data: dict[str, Any] = {k: v for k, v in values.items() if v and k not in ("age", "allergies")}
        data["sex"] = self.query_one("#sex", Select).value
        data["name_order"] = self.query_one("#name_order", Select).value
        if values["allergies"]:
            data["allergies"] = split_list(values["allergies"])
        if values["age"] and not values["birth_date"]:
            data.update(estimated_birth(values["age"]))
        return data

    def action_save(self) -> None:
        self.save()

    @background(exclusive=True)
    async def save(self) -> None:
        error = self.query_one("#register-error", Label)
        reason = self.query_one("#reason", Input).value.strip()
        try:
            data = self.patient()
            if self.refused(data):
                return
            if not reason:
                self.duplicates = await self.desk.duplicates_of(data)
                if self.duplicates:
                    self._show_duplicates()
                    return
            registered = await self.desk.register(data, reason=reason)
        except FieldkitError as exc:
            error.update(str(exc))
            return
        self.notify(_("Registered."))
        self.post_message(OpenChart(registered.patient_id, instead=True))

    def refused(self, data: dict[str, Any]) -> bool:
        """Checked here first, so the message can name the field in words and the cursor go to it."""
        _patient, found = check(Patient, data)
        self.query_one("#register-error", Label).update(found[0].text if found else "")
        field = self.query(f"#{found[0].where[0]}") if found and found[0].where else None
        if field:
            field.first().focus()
        return bool(found)

    def _show_duplicates(self) -> None:
        title = self.query_one("#duplicates-title", Static)
        title.update(ngettext(
            "{n} patient may be this person: Enter opens it; or give a reason below and F2 to register anyway",
            "{n} patients may be this person: Enter opens one; or give a reason below and F2 to register anyway",
            len(self.duplicates)).format(n=digits(str(len(self.duplicates)))))
        table = self.query_one("#duplicates", DataTable)
        table.clear()
        for match in self.duplicates:
            table.add_row(match.patient.full_name, day(match.patient.birth_date) if match.patient.birth_date else "?",
                          ", ".join(_(reason) for reason in match.reasons))
        table.display = self.query_one("#reason").display = True
        table.focus()

    def on_key(self, event: events.Key) -> None:
        # The warning leaves the list focused, so Enter opens a match; what is typed there is the reason.
        reason = self.query_one("#reason", Input)
        if event.is_printable and event.character and self.focused is self.query_one("#duplicates") and reason.display:
            reason.focus()
            reason.insert_text_at_cursor(event.character)
            event.stop()

    @on(DataTable.RowSelected, "#duplicates")
    def open_existing(self, event: DataTable.RowSelected) -> None:
        self.post_message(OpenChart(self.duplicates[event.cursor_row].patient.id, instead=True))
