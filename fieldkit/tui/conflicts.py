"""The supervisor's conflict inbox: two laptops changed one field without seeing each other.

Both values stand side by side with who wrote them and when. The supervisor picks one (1, 2, …)
or types a third, gives a reason, and F2 journals the choice: it spreads like any other change
and closes the conflict everywhere. Safety fields (birth date, sex, allergies, identifiers) are
listed first; they are the ones no machine may decide alone.
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Footer, Input, Label, Static

from fieldkit.errors import FieldkitError
from fieldkit.i18n import N_, _, digits, moment, ngettext
from fieldkit.records.queries import when
from fieldkit.text import split_list
from fieldkit.tui.base import RoleScreen, background
from fieldkit.tui.status import StatusBar
from fieldkit.tui.words import value_text, word


def typed(text: str, like: Any) -> Any:
    """A third value typed as text, shaped like the values in conflict (a list, a map, a word)."""
    if isinstance(like, list):
        return split_list(text)
    if isinstance(like, dict):
        pairs = [item.partition("=") for item in split_list(text)]
        return {system.strip(): value.strip() for system, _sep, value in pairs}
    return text


class ConflictScreen(RoleScreen):
    ACTION = "resolve conflict"
    REFUSAL = N_("Only a supervisor resolves conflicts.")
    BINDINGS = [
        Binding("f2", "resolve", N_("Resolve"), id="resolve", priority=True),
        Binding("escape", "app.pop_screen", N_("Back"), id="back"),
        Binding("f12", "app.lock", N_("Lock"), id="lock"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.conflicts: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield Static(_("Conflicts waiting for a decision"), classes="title", id="conflicts-title")
        yield DataTable(id="conflict-list", cursor_type="row")
        with Vertical(id="conflict-detail"):
            yield Static(id="candidates")
            yield Input(placeholder=_("Value to keep: 1, 2… picks one, or type another"), id="choice", compact=True)
            yield Input(placeholder=_("Reason (required, journalled with the decision)"), id="reason", compact=True)
            yield Label("", id="conflict-error", classes="error")
        yield Footer()

    def on_mount(self) -> None:
        if self.refused():
            return
        self.query_one("#conflict-list", DataTable).add_columns(_("Patient"), _("Field"), _("Values"))
        self.load()

    @background(exclusive=True)
    async def load(self) -> None:
        self.conflicts = await self.desk.conflicts()
        table = self.query_one("#conflict-list", DataTable)
        table.clear()
        for conflict in self.conflicts:
            values = " | ".join(value_text(c["value"]) for c in conflict["candidates"])
            safety = " " + _("(safety)") if conflict["needs_review"] else ""
            table.add_row(conflict["patient_name"], word(conflict["field"]) + safety, values)
        count = len(self.conflicts)
        self.query_one("#conflicts-title", Static).update(ngettext(
            "{n} conflict waiting for a decision", "{n} conflicts waiting for a decision", count
        ).format(n=digits(str(count))) if count else _("No conflict waiting"))
        self.show_detail(0)
        table.focus()

    @on(DataTable.RowHighlighted, "#conflict-list")
    def highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_detail(event.cursor_row)

    def show_detail(self, row: int) -> None:
        if not self.conflicts:
            self.query_one("#candidates", Static).update("")
            return
        conflict = self.conflicts[row]
        self.query_one("#candidates", Static).update("\n".join(
            f"{i}. {value_text(c['value'])}   "
            + _("by {author} at {time}").format(author=c.get("author_name") or c["author"][:8],
                                                 time=moment(when(c["ver"])[:16]))
            for i, c in enumerate(conflict["candidates"], start=1)))

    @on(DataTable.RowSelected, "#conflict-list")
    def chosen(self) -> None:
        self.query_one("#choice").focus()

    def action_resolve(self) -> None:
        self.resolve()

    @background(exclusive=True)
    async def resolve(self) -> None:
        if not self.conflicts:
            return
        conflict = self.conflicts[self.query_one("#conflict-list", DataTable).cursor_row]
        choice = self.query_one("#choice", Input).value.strip()
        candidates = conflict["candidates"]
        picked = choice.isdigit() and 0 < int(choice) <= len(candidates)
        value = candidates[int(choice) - 1]["value"] if picked else typed(choice, candidates[0]["value"])
        try:
            if choice == "":
                raise FieldkitError(_("pick a value (1, 2…) or type the one to keep"))
            await self.desk.resolve_conflict(conflict["id"], value, self.query_one("#reason", Input).value)
        except FieldkitError as exc:
            self.query_one("#conflict-error", Label).update(str(exc))
            return
        self.query_one("#choice", Input).value = self.query_one("#reason", Input).value = ""
        self.query_one("#conflict-error", Label).update("")
        self.notify(_("Kept {value} for {field}.").format(value=value_text(value), field=word(conflict["field"])))
        self.load()
