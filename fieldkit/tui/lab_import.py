"""A lab's file of results brought in by a lab clerk: the file, the lab's template and the screening
round; F2 checks it (a dry run that writes nothing), F5 imports it, F3 writes its problems as CSV.

Both the dry run and the import run on the store's threads (records/lab_import.check and commit),
so a file of 4,000 rows never freezes the screen: their progress reaches the bar as messages. The
summary counts rows, each once (ok, with errors, quarantined, already imported) and the results a
commit would add or correct; the table lists each problem by row and column. A file already
imported is refused whole, in one line. Rows that match no patient wait in the quarantine
(tui/quarantine.py) for a person to say whose they are.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Footer, Input, Label, ProgressBar, Select, Static

from fieldkit.errors import FieldkitError
from fieldkit.i18n import N_, _, digits, number
from fieldkit.tui.ask import Ask
from fieldkit.tui.base import RoleScreen, background
from fieldkit.tui.commands import ScreenActions
from fieldkit.tui.home import clip
from fieldkit.tui.status import StatusBar

# Each count of a dry run's summary, one to a line: rows first, each row counted once.
SUMMARY = (("rows", N_("Rows in the file")), ("ok", N_("ok")), ("errors", N_("with errors")),
           ("quarantined", N_("quarantined: no patient matched")), ("already", N_("already imported")),
           ("new_results", N_("new results")), ("corrections", N_("corrections of results held")))
MESSAGE_WIDTH = 42  # the problem's message at 80 columns; the CSV (F3) has it whole


class Progressed(Message):
    """How far a dry run or an import has got: posted from the store's thread."""

    def __init__(self, done: int, total: int) -> None:
        super().__init__()
        self.done, self.total = done, total


def summary_lines(counts: dict[str, int]) -> str:
    return "\n".join(f"{_(label)}: {number(counts.get(key, 0))}" for key, label in SUMMARY)


def imported_line(result: Any) -> str:
    return _("Imported (import {id}): new results {created} · corrected {corrected} · rows quarantined "
             "{quarantined} · follow-ups raised {follow_ups}").format(
        created=number(result.created), corrected=number(result.corrected), quarantined=number(result.quarantined),
        follow_ups=number(result.follow_ups), id=result.import_id)


ACTIONS = (
    (N_("Check the file"), N_("a dry run: every problem by row and column; nothing written (F2)"), "check"),
    (N_("Save the problems as CSV"), N_("row, column, code, message; never into the clinic's data folder (F3)"),
     "errors"),
    (N_("Import the file"), N_("what the check showed, in one go (F5)"), "commit"),
)


class ImportActions(ScreenActions):
    ACTIONS = ACTIONS


class ImportScreen(RoleScreen):
    COMMANDS = {ImportActions}
    ACTION = "import lab results"
    REFUSAL = N_("Only a clinician or a supervisor imports lab results.")
    DEFAULT_CSS = """
    #import-choices { height: auto; padding: 0 1; }
    #import-choices Horizontal { height: 1; }
    #import-choices Label { width: 12; }
    #import-choices Input, #import-choices Select { width: 1fr; }
    #import-progress { padding: 0 1; height: 1; }
    #import-summary { height: auto; padding: 0 1; }
    #import-error { width: 100%; height: auto; }
    #problems { height: 1fr; }
    """
    BINDINGS = [
        Binding("f2", "check", N_("Check"), id="check-import", priority=True),
        # The footer is full at 80 columns in French: ^p lists F3, and the check says it.
        Binding("f3", "errors", N_("Errors CSV"), id="import-errors", priority=True, show=False),
        Binding("f5", "commit", N_("Import"), id="commit-import", priority=True),
        Binding("escape", "app.pop_screen", N_("Back"), id="back"),
        Binding("f12", "app.lock", N_("Lock"), id="lock"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.plan: Any = None  # the last dry run's ImportPlan
        self.checked: tuple[str, str, str] | None = None  # the choices it was made with
        self.busy = False
        self.written = ""

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Static(_("Import a lab's file of results"), classes="title")
        with Vertical(id="import-choices"):
            with Horizontal():
                yield Label(_("File"))
                yield Input(id="path", compact=True, placeholder=_("the lab's file: CSV, XLSX or ODS"))
            with Horizontal():
                yield Label(_("Template"))
                yield Select([], id="template", prompt=_("choose the lab's template"), compact=True)
            with Horizontal():
                yield Label(_("Round"))
                yield Select([], id="round", prompt=_("no screening round"), compact=True)
        yield ProgressBar(id="import-progress", show_eta=False)
        yield Label("", id="import-error", classes="error", markup=False)  # a refusal quotes what was typed
        yield Static("", id="import-summary")
        yield DataTable(id="problems", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        if self.refused():
            return
        self.query_one("#import-progress").display = False
        table = self.query_one("#problems", DataTable)
        for label, width in ((_("Row"), 6), (_("Column"), 12), (_("Code"), 12), (_("Problem"), MESSAGE_WIDTH)):
            table.add_column(clip(label, width), width=width)
        self.load()

    @background(group="choices")
    async def load(self) -> None:
        try:
            templates = await self.desk.lab_templates()
            rounds = await self.desk.screening_rounds()
        except FieldkitError as exc:
            self.said(_(str(exc)))
            return
        self.query_one("#template", Select).set_options(
            (Text(f"{template.lab} ({template.id})"), key) for key, template in templates.items())
        self.query_one("#round", Select).set_options((Text(found["name"]), found["id"]) for found in rounds)
        self.query_one("#path").focus()

    def choices(self) -> tuple[str, str, str]:
        """(path, template, round) as chosen; a missing file or template is said as such."""
        path = self.query_one("#path", Input).value.strip()
        template = self.query_one("#template", Select).value
        round_id = self.query_one("#round", Select).value
        if not path:
            raise FieldkitError(_("type the path of the lab's file"))
        if not isinstance(template, str):
            raise FieldkitError(_("choose the lab's template"))
        return path, template, round_id if isinstance(round_id, str) else ""

    def said(self, line: str) -> None:
        self.query_one("#import-error", Label).update(line)

    def on_progressed(self, message: Progressed) -> None:
        self.query_one("#import-progress", ProgressBar).update(total=message.total, progress=message.done)

    def _progress(self, done: int, total: int) -> None:
        self.post_message(Progressed(done, total))  # from the store's thread: posting is thread-safe

    def _start(self) -> None:
        self.busy = True
        bar = self.query_one("#import-progress", ProgressBar)
        bar.update(total=None, progress=0)
        bar.display = True
        self.said("")

    def action_check(self) -> None:
        if self.busy:
            return
        try:
            chosen = self.choices()
        except FieldkitError as exc:
            self.said(str(exc))
            return
        self._start()
        self.check(chosen)

    @background(exclusive=True, group="import")
    async def check(self, chosen: tuple[str, str, str]) -> None:
        path, template, round_id = chosen
        try:
            plan = await self.desk.check_import(path, template, round_id or None, self._progress)
        except FieldkitError as exc:
            self.plan = self.checked = None
            self.said(_(str(exc)))
            return
        finally:
            self.busy = False
        self.plan, self.checked = plan, chosen
        self.show(plan)

    def show(self, plan: Any) -> None:
        self.query_one("#import-summary", Static).update(summary_lines(plan.counts))
        table = self.query_one("#problems", DataTable)
        table.clear()
        for problem in plan.problems:
            if problem.code != "W_ALREADY":
                # What the file and the lab wrote is shown as written, never read as markup ("m[IU]/mL").
                table.add_row(digits(str(problem.row)), Text(clip(problem.column, 12)), problem.code,
                              Text(clip(problem.message, MESSAGE_WIDTH)))
        self.said(plan.refusal or _("Checked: nothing written yet. F5 imports it, F3 saves the problems as CSV."))

    @on(Input.Changed)
    @on(Select.Changed)
    def changed(self) -> None:
        """A dry run stands for the choices it was made with; another file needs its own."""
        self.plan = self.checked = None

    def action_commit(self) -> None:
        if self.busy:
            return
        try:
            chosen = self.choices()
        except FieldkitError as exc:
            self.said(str(exc))
            return
        if self.plan is None or self.checked != chosen:
            self.said(_("Check the file first (F2): the import writes what the check showed."))
            return
        if self.plan.refusal:
            self.said(self.plan.refusal)
            return
        self._start()
        self.commit(self.plan)

    @background(exclusive=True, group="import")
    async def commit(self, plan: Any) -> None:
        try:
            result = await self.desk.commit_import(plan, self._progress)
        except FieldkitError as exc:
            self.said(_(str(exc)))
            return
        finally:
            self.busy = False
        self.plan = self.checked = None
        self.query_one("#import-summary", Static).update(summary_lines(result.counts))
        self.said(imported_line(result))
        self.notify(imported_line(result), timeout=10)

    def action_errors(self) -> None:
        if self.plan is None:
            self.said(_("Check the file first (F2): its problems are listed then."))
            return
        self.app.push_screen(Ask(_("Save the problems as CSV: type the file's full path (outside the clinic's data "
                                   "folder)"), self._write_errors,
                                 placeholder=_("for example {path}").format(path="/media/usb/problems.csv")),
                             callback=self._written)

    async def _write_errors(self, typed: str) -> None:
        if not typed.strip():
            raise FieldkitError(_("type where to save the file"))
        self.written = str(await self.desk.write_import_errors(self.plan, typed.strip()))

    def _written(self, saved: bool | None) -> None:
        if saved:
            self.said(_("Problems saved to {path}").format(path=self.written))
