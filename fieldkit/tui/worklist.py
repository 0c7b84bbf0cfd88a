"""The programme worklist (F2 from home): today's due and overdue check-ins, highest risk first,
and the lists beside it, one digit away: escalations waiting for a doctor, patients who missed
two check-ins in a row, enrolments ready to close, and the programmes.

Enter on a due check-in opens the check-in form; on an escalation, the doctor's decision
(transfer or keep at home); on the other lists, the enrolment with its actions. The lists are
computed on a reader thread each time the screen is shown, never on the event loop. Digits
switch lists (Arabic-Indic and Persian digits too), so an Arabic or Persian layout needs no
Latin letter.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from functools import partial
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.events import Key
from textual.widgets import DataTable, Footer, Static

from fieldkit.i18n import N_, _, day, digits, number
from fieldkit.permissions import allowed
from fieldkit.records.programme_lists import Followed
from fieldkit.records.programmes import Programme
from fieldkit.text import ascii_digits
from fieldkit.tui.base import ReadingScreen, background
from fieldkit.tui.home import clip
from fieldkit.tui.programmes import level_text
from fieldkit.tui.status import StatusBar

DUE, ESCALATIONS, MISSED, CLOSE, PROGRAMMES = "due", "escalations", "missed", "close", "programmes"
# The lists in the order their digits choose them; the last opens the programmes screen.
VIEWS = {DUE: N_("Due"), ESCALATIONS: N_("Escalations"), MISSED: N_("Missed twice"), CLOSE: N_("To close"),
         PROGRAMMES: N_("Programmes")}
EMPTY = {DUE: N_("No check-in due today."), ESCALATIONS: N_("No red check-in waiting for a doctor."),
         MISSED: N_("Nobody missed two check-ins in a row."), CLOSE: N_("No enrolment is ready to close.")}
HINT = {DUE: N_("Highest risk first, then the longest overdue. Enter: check in."),
        ESCALATIONS: N_("Red check-ins no doctor has taken on, oldest first. Enter: decide."),
        MISSED: N_("Missed the last two check-ins or more: call them. Enter: open the enrolment."),
        CLOSE: N_("Every check-in day has passed. Enter: open the enrolment to close it.")}


def plan_day(followed: Followed, programme: Programme | None) -> str:
    """Which day of the plan the next check-in is: "3/14"."""
    rule = programme.checkin if programme else None
    if followed.standing.next_due is None or rule is None:
        return "–"
    n = (followed.standing.next_due - date.fromisoformat(followed.enrolled_on)).days + 1
    return digits(f"{n}/{rule.max_days}")


def programme_name(programmes: dict[str, Programme], programme_id: str, width: int) -> str:
    found = programmes.get(programme_id)
    return clip(_(found.name) if found else programme_id, width)


class WorklistScreen(ReadingScreen):
    DEFAULT_CSS = """
    #views { height: auto; padding: 0 1; }
    #view-hint { height: auto; padding: 0 1; color: $text-muted; }
    #worklist { height: 1fr; }
    """
    BINDINGS = [
        # Before the table's own Enter: the row under the cursor is opened, whichever list it is.
        Binding("enter", "open", N_("Open"), id="worklist-open", priority=True),
        Binding("f5", "refresh", N_("Refresh"), id="worklist-refresh"),
        Binding("escape", "app.pop_screen", N_("Back"), id="back"),
        Binding("f12", "app.lock", N_("Lock"), id="lock"),
    ]

    def __init__(self, view: str = DUE) -> None:
        super().__init__()
        self.view = view if view in EMPTY else DUE
        self.lists: dict[str, list[Any]] = {name: [] for name in EMPTY}
        self.programmes: dict[str, Programme] = {}
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Static(id="views")
        yield Static(id="view-hint")
        yield DataTable(id="worklist", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def action_refresh(self) -> None:
        self.load()

    @background(exclusive=True)
    async def load(self) -> None:
        today = date.today()
        desk = self.desk
        self.programmes = await desk.programmes()
        self.lists = {DUE: await desk.worklist(today), ESCALATIONS: await desk.escalations(),
                      MISSED: await desk.missed_twice(today), CLOSE: await desk.ready_to_close(today)}
        self.loaded = True
        self.show()

    def on_key(self, event: Key) -> None:
        if not event.character:
            return
        typed = ascii_digits(event.character)
        views = list(VIEWS)
        if typed in {str(n) for n in range(1, len(views) + 1)}:
            event.stop()
            self.choose(views[int(typed) - 1])

    def choose(self, view: str) -> None:
        if view == PROGRAMMES:
            from fieldkit.tui.programmes import ProgrammesScreen

            self.app.push_screen(ProgrammesScreen())
            return
        self.view = view
        self.query_one("#worklist", DataTable).move_cursor(row=0)
        self.show()

    def show(self) -> None:
        """The chosen list, and the line of lists with their counts, the chosen one marked."""
        width = self.query_one("#views").content_size.width or 78
        line, used = Text(), 0
        for n, (view, label) in enumerate(VIEWS.items(), start=1):
            part = f"{digits(str(n))} {_(label)}" + (f" ({number(len(self.lists[view]))})" if view in self.lists else "")
            part = f"[{part}]" if view == self.view else part
            if used and used + 2 + cell_len(part) > width:  # a list's digit, name and count stay on one row
                line.append("\n")
                used = 0
            elif used:
                line.append("  ")
                used += 2
            line.append(part, style="bold reverse" if view == self.view else "")
            used += cell_len(part)
        self.query_one("#views", Static).update(line)
        rows = self.lists[self.view]
        hint = _(HINT[self.view]) if rows else _(EMPTY[self.view]) if self.loaded else _("opening…")
        self.query_one("#view-hint", Static).update(hint)
        table = self.query_one("#worklist", DataTable)
        cursor = table.cursor_row
        table.clear(columns=True)
        getattr(self, f"_show_{self.view}")(table, rows)
        if rows:
            table.move_cursor(row=min(max(cursor, 0), len(rows) - 1))
        table.focus()

    def _columns(self, table: DataTable, *columns: tuple[str, int]) -> None:
        for label, width in columns:
            table.add_column(clip(label, width), width=width)

    def _show_due(self, table: DataTable, rows: list[Followed]) -> None:
        self._columns(table, (_("Risk"), 6), (_("Patient"), 18), (_("Phone"), 13), (_("Programme"), 10),
                      (_("Day"), 5), (_("Late"), 4), (_("Missed"), 6))
        for f in rows:
            table.add_row(level_text(f.last_alert, quiet=True), clip(f.patient_name, 18), f.phone,
                          programme_name(self.programmes, f.programme, 10), plan_day(f, self.programmes.get(f.programme)),
                          number(f.standing.days_overdue), number(len(f.standing.missed)))

    def _show_escalations(self, table: DataTable, rows: list[dict[str, Any]]) -> None:
        self._columns(table, (_("Patient"), 18), (_("Day"), 12), (_("Why"), 28), (_("By"), 10))
        for escalation in rows:
            reasons = escalation["reasons"]
            why = reasons[0] + (f" (+{number(len(reasons) - 1)})" if len(reasons) > 1 else "") if reasons else ""
            table.add_row(clip(escalation["patient_name"], 18), day(escalation["day"]), clip(why, 28),
                          clip(escalation["author_name"], 10))

    def _show_missed(self, table: DataTable, rows: list[Followed]) -> None:
        self._columns(table, (_("Patient"), 20), (_("Phone"), 14), (_("Programme"), 14), (_("In a row"), 8),
                      (_("Risk"), 6))
        for f in rows:
            table.add_row(clip(f.patient_name, 20), f.phone, programme_name(self.programmes, f.programme, 14),
                          number(f.standing.misses_in_a_row), level_text(f.last_alert, quiet=True))

    def _show_close(self, table: DataTable, rows: list[Followed]) -> None:
        self._columns(table, (_("Patient"), 20), (_("Programme"), 14), (_("Enrolled"), 12), (_("Done"), 7),
                      (_("Missed"), 6))
        for f in rows:
            table.add_row(clip(f.patient_name, 20), programme_name(self.programmes, f.programme, 14),
                          day(f.enrolled_on), digits(f"{f.standing.done}/{f.standing.expected}"),
                          number(len(f.standing.missed)))

    def action_open(self) -> None:
        rows = self.lists[self.view]
        row = self.query_one("#worklist", DataTable).cursor_row
        if not rows or not 0 <= row < len(rows):
            return
        chosen = rows[row]
        role = self.desk.user.role
        if self.view == DUE:
            if not allowed(role, "record check-ins"):
                self.notify(_("Only a clinician or a supervisor records check-ins."), severity="warning")
                return
            from fieldkit.tui.checkin import CheckinScreen

            programme = self.programmes.get(chosen.programme)
            self.app.push_screen(CheckinScreen(chosen.enrolment_id, chosen.patient_name, chosen.programme,
                                               plan_day(chosen, programme)))
        elif self.view == ESCALATIONS:
            from fieldkit.tui.escalations import EscalationScreen

            self.app.push_screen(EscalationScreen(chosen))
        else:
            from fieldkit.tui.enrolment import EnrolmentScreen

            self.app.push_screen(EnrolmentScreen(chosen.enrolment_id))


def programme_commands(app: Any) -> Iterable[SystemCommand]:
    """The programme lists in the command palette (ctrl+p), each with its keys."""
    yield SystemCommand(_("Worklist"), _("Check-ins due today, highest risk first (F2)"), app.action_worklist)
    yield SystemCommand(_("Escalations"), _("Red check-ins waiting for a doctor (F2, 2)"),
                        partial(app.action_worklist, ESCALATIONS))
    yield SystemCommand(_("Missed check-ins"), _("Patients who missed two check-ins in a row (F2, 3)"),
                        partial(app.action_worklist, MISSED))
    yield SystemCommand(_("Ready to close"), _("Enrolments whose check-in days have all passed (F2, 4)"),
                        partial(app.action_worklist, CLOSE))
    yield SystemCommand(_("Programmes"), _("Enrolments by status, line lists, CSV export (F2, 5)"),
                        app.action_programmes)
