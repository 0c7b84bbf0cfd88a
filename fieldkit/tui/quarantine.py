"""The quarantine: rows of a lab's file that matched no patient (or matched against what their id,
birth date or name says), waiting for a person to say whose they are. An import never makes a
patient of a row.

Each row shows its file and row number, who the lab says it is (staff id, name), its results and
the problem. Enter asks whose it is, through the patient search the home screen uses, and records
its results for that patient; F4 sets it aside with a reason (not our staff, a test sample).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Input, Static

from fieldkit.errors import FieldkitError
from fieldkit.i18n import N_, _, digits, ngettext, number
from fieldkit.records.lab_codes import label_key
from fieldkit.records.lab_templates import templates
from fieldkit.records.search import PatientSummary
from fieldkit.tui.ask import Ask
from fieldkit.tui.base import ReadingScreen, RoleScreen, Translated, background
from fieldkit.tui.home import WIDE, clip, describe
from fieldkit.tui.labs import reading, test_name
from fieldkit.tui.status import StatusBar

WHO = ("staff_id", "name")  # what a row says of the person, as the lab wrote it


def cell(row: dict[str, Any], field: str) -> str:
    """The cell of a quarantined row that holds `field`, found by the headers its template gives it."""
    data = row["data"]
    template = templates().get(str(data.get("template", "")).split("@")[0])
    headers = {label_key(h) for h in template.columns.get(field, ())} if template else set()
    return next((value for header, value in data.get("cells", {}).items() if label_key(header) in headers), "")


def results_text(row: dict[str, Any]) -> str:
    return "; ".join(f"{test_name(result)} {reading(result)}" for result in row["data"].get("results", []))


class QuarantineScreen(RoleScreen, ReadingScreen):
    ACTION = "import lab results"
    REFUSAL = N_("Only a clinician or a supervisor matches lab rows to patients.")
    DEFAULT_CSS = """
    #quarantine { height: 1fr; }
    #quarantine-row { height: auto; padding: 0 1; }
    """
    BINDINGS = [
        Binding("enter", "match", N_("Whose is it?"), id="match-row", priority=True),
        Binding("f4", "discard", N_("Discard"), id="discard-row"),
        Binding("escape", "app.pop_screen", N_("Back"), id="back"),
        Binding("f12", "app.lock", N_("Lock"), id="lock"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, Any]] = []
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Static(_("opening…"), id="quarantine-title", classes="title")
        yield DataTable(id="quarantine", cursor_type="row", zebra_stripes=True)
        yield Static("", id="quarantine-row", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.refused()

    @background(exclusive=True)
    async def load(self) -> None:
        if not self.allows(self.desk.user.role):  # refused on mounting: nothing is read for them
            return
        await self.desk.lab_templates()  # read here, off the loop: `cell` finds the lab's headers in them
        self.rows = await self.desk.quarantined()
        self.loaded = True
        count = len(self.rows)
        self.query_one("#quarantine-title", Static).update(
            ngettext("{n} lab row waits for a patient", "{n} lab rows wait for a patient", count).format(n=number(count))
            if count else _("No lab row waits in the quarantine."))
        table = self.query_one("#quarantine", DataTable)
        cursor = table.cursor_row
        table.clear(columns=True)
        widths = {"file": 14, "row": 5, "staff_id": 13, "name": 17, "results": 15}  # 80 columns, cell padding included
        for label, width in zip((_("File"), _("Row"), _("Staff id"), _("Name"), _("Results")), widths.values()):
            table.add_column(clip(label, width), width=width)
        for row in self.rows:
            # What the lab wrote is shown as written, never read as markup ("m[IU]/mL").
            table.add_row(Text(clip(row["file_name"], widths["file"])), digits(str(row["import_row"])),
                          *(Text(clip(cell(row, name), widths[name])) for name in WHO),
                          Text(clip(results_text(row), widths["results"])))
        if self.rows:
            table.move_cursor(row=min(max(cursor, 0), len(self.rows) - 1))
        table.focus()
        self.refresh_bindings()
        self.show_row()

    @on(DataTable.RowHighlighted)
    def show_row(self) -> None:
        """The row under the cursor in full: its problem, and every cell the lab wrote."""
        chosen = self.chosen()
        text = ""
        if chosen is not None:
            cells = " · ".join(f"{header}: {value}" for header, value in chosen["data"].get("cells", {}).items())
            text = "\n".join((chosen["problem"], results_text(chosen), cells))
        self.query_one("#quarantine-row", Static).update(text)

    def chosen(self) -> dict[str, Any] | None:
        row = self.query_one("#quarantine", DataTable).cursor_row
        return self.rows[row] if self.rows and 0 <= row < len(self.rows) else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("match", "discard"):
            return bool(self.rows)
        return True

    def action_match(self) -> None:
        chosen = self.chosen()
        if chosen is None:
            return
        typed = cell(chosen, "staff_id") or cell(chosen, "name")
        self.app.push_screen(ChoosePatient(typed, _("Whose is row {row} of {file}? {results}").format(
            row=digits(str(chosen["import_row"])), file=chosen["file_name"], results=results_text(chosen))),
            callback=lambda patient: self._chosen(chosen, patient))

    def _chosen(self, row: dict[str, Any], patient: PatientSummary | None) -> None:
        if patient is not None:
            self.match(row, patient)

    @background(exclusive=True, group="match")
    async def match(self, row: dict[str, Any], patient: PatientSummary) -> None:
        try:
            written = await self.desk.match_row(row["id"], patient.id)
        except FieldkitError as exc:
            self.query_one("#quarantine-row", Static).update(_(str(exc)))
            return
        self.notify(ngettext("Matched to {name}: {n} result recorded", "Matched to {name}: {n} results recorded",
                             len(written)).format(name=patient.full_name, n=number(len(written))))
        self.load()

    def action_discard(self) -> None:
        chosen = self.chosen()
        if chosen is None:
            return

        async def discard(reason: str) -> None:
            await self.desk.discard_row(chosen["id"], reason)

        self.app.push_screen(Ask(_("Why is this row set aside? (required: not our staff, a test sample…)"), discard),
                             callback=self._discarded)

    def _discarded(self, saved: bool | None) -> None:
        if saved:
            self.notify(_("Set aside."))


class ChoosePatient(Translated, ModalScreen[PatientSummary | None]):
    """Whose a row is: the patient search of the home screen (any script, an id, a phone), started
    from what the row says; Enter on a patient chooses them."""

    DEFAULT_CSS = """
    ChoosePatient { align: center middle; }
    #choose-patient { width: 78; max-width: 100%; height: 18; border: round $primary; padding: 0 1;
                      background: $surface; }
    #choose-patient DataTable { height: 1fr; }
    """
    BINDINGS = [
        Binding("escape", "dismiss(None)", N_("Cancel"), id="cancel"),
        Binding("f12", "app.lock", N_("Lock"), id="lock"),
    ]

    def __init__(self, typed: str, question: str) -> None:
        super().__init__()
        self.typed, self.question = typed, question
        self.found: list[PatientSummary] = []

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with Vertical(id="choose-patient"):
            yield Static(self.question, markup=False)
            yield Input(self.typed, id="who", compact=True,
                        placeholder=_("Find a patient: any part of a name, any script, an id or a phone"))
            yield DataTable(id="patients", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#patients", DataTable)
        for label, width in zip((_("Name"), _("Sex/born"), _("Phone"), _("ID or locality")), WIDE.values()):
            table.add_column(clip(label, width), width=width)
        self.query_one("#who").focus()
        self.find()

    @on(Input.Changed, "#who")
    def typed_more(self) -> None:
        self.find()

    @background(exclusive=True, group="search")
    async def find(self) -> None:
        query = self.query_one("#who", Input).value
        self.found = await self.desk.search(query) if query.strip() else []
        table = self.query_one("#patients", DataTable)
        table.clear()
        for patient in self.found:
            table.add_row(*(Text(part) for part in describe(patient, wide=True)))

    @on(Input.Submitted, "#who")
    def to_list(self) -> None:
        if self.found:
            self.query_one("#patients").focus()

    def on_key(self, event) -> None:
        if event.key == "down" and self.focused is self.query_one("#who") and self.found:
            self.query_one("#patients").focus()
            event.stop()

    @on(DataTable.RowSelected, "#patients")
    def chosen(self, event: DataTable.RowSelected) -> None:
        self.dismiss(self.found[event.cursor_row])
