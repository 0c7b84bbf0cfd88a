"""Merging duplicate patients: two registrations of one person become one record, reversibly.

The pairs listed are those a registration was warned about and saved anyway (the warning and the
clerk's reason were journalled with it), or, for a name, id or phone typed above, the likely
duplicates of the patients it finds. Enter shows both records side by side, the field names
between them so two right-to-left columns never touch. 1 or 2 picks the record that stays; F2
asks once more, then points the other at it (`merged_into`: nothing is deleted). F3 undoes the
merge just made, or any time later that of a pair shown merged: a name, id or phone of either
lists the records merged into the patient it finds (the chart's F7 opens this screen so).
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Footer, Input, Label, Static

from fieldkit.errors import FieldkitError
from fieldkit.i18n import N_, _, day, ngettext, number
from fieldkit.records.names import full_name
from fieldkit.tui.base import RoleScreen, Translated, background
from fieldkit.tui.status import StatusBar
from fieldkit.tui.words import born, word

SIDE_WIDTH = 30  # two record columns and the labels between them fit 80 columns


def why(found: dict[str, Any]) -> str:
    """Why a pair may be one person, in words: the matcher's reasons, or the clerk's at registration."""
    if found.get("merged"):
        return _("Merged already: F3 undoes the merge")
    if "reasons" in found:
        return _("Alike: {reasons}").format(reasons=", ".join(_(reason) for reason in found["reasons"]))
    typed = found.get("registered_anyway")
    return _("Registered anyway: {reason}").format(reason=typed) if typed else _("Flagged at registration")


def status(record: dict[str, Any]) -> str:
    if record.get("merged_into"):
        return _("merged into {id}").format(id=record["merged_into"])
    return _("voided") if record.get("voided") else _("in use")


def sides(record: dict[str, Any]) -> list[tuple[str, str]]:
    """(field label, value) for one record, in the order both columns show them."""
    birth = day(record["birth_date"]) if record.get("birth_date") else _("unknown")
    if record.get("birth_date_estimated"):
        birth += " " + _("(estimated)")
    ids = ", ".join(f"{system} {value}" for system, value in (record.get("identifiers") or {}).items())
    return [
        (_("Name"), full_name(record)),
        (_("Sex"), word(record.get("sex") or "unknown")),
        (_("Born"), birth),
        (_("Phone"), record.get("phone") or "-"),
        (_("Identifiers"), ids or "-"),
        (_("Locality"), record.get("locality") or "-"),
        (_("Allergies"), ", ".join(record.get("allergies") or []) or _("none recorded")),
        (_("Encounters"), number(len(record["encounters"]))),
        (_("Status"), status(record)),
        (_("Id"), record["id"]),
    ]


class ConfirmMerge(Translated, ModalScreen[bool]):
    """The one question before a merge: which record goes, into which, in words."""

    DEFAULT_CSS = """
    ConfirmMerge { align: center middle; }
    #confirm-merge { width: 64; height: auto; border: round $error; padding: 1 2; background: $surface; }
    #confirm-merge Horizontal { height: auto; margin: 1 0 0 0; }
    """
    BINDINGS = [
        Binding("f2", "answer(True)", N_("Merge"), id="confirm-merge", priority=True),
        Binding("escape", "answer(False)", N_("Cancel"), id="cancel-merge"),
        Binding("f12", "app.lock", N_("Lock"), id="lock"),
    ]
    AUTO_FOCUS = "#cancel"  # Enter on its own keeps both records as they are

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with Vertical(id="confirm-merge"):
            yield Static(self.question)
            with Horizontal():
                yield Button(_("Merge"), id="merge", variant="error")
                yield Button(_("Cancel"), id="cancel")
        yield Footer()

    def action_answer(self, merge: bool) -> None:
        self.dismiss(merge)

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "merge")


class MergeScreen(RoleScreen):
    ACTION = "merge patients"
    REFUSAL = N_("Only a supervisor merges patients.")
    DEFAULT_CSS = """
    #merge { padding: 0 1; }
    #pairs { height: 5; }
    #sides { height: 11; }
    """
    BINDINGS = [
        Binding("1", "keep(0)", N_("Keep 1"), id="keep-first"),
        Binding("2", "keep(1)", N_("Keep 2"), id="keep-second"),
        Binding("f2", "merge", N_("Merge"), id="merge", priority=True),
        Binding("f3", "undo", N_("Undo merge"), id="undo-merge", priority=True),
        Binding("escape", "app.pop_screen", N_("Back"), id="back"),
        Binding("f12", "app.lock", N_("Lock"), id="lock"),
    ]

    def __init__(self, query: str = "") -> None:
        super().__init__()
        self.given = query  # from a chart: its id, so its merged records and likely duplicates are listed
        self.pairs: list[dict[str, Any]] = []
        self.records: list[dict[str, Any]] = []  # the pair shown side by side
        self.survivor: int | None = None  # 0 or 1: which of `records` stays
        self.merged: tuple[dict[str, Any], dict[str, Any]] | None = None  # (duplicate, survivor) just merged

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with Vertical(id="merge"):
            yield Input(self.given, placeholder=_("Find pairs for a name, id or phone; empty: pairs flagged at registration"),
                        id="pair-search", compact=True)
            yield Static(id="pairs-title", classes="title")
            yield DataTable(id="pairs", cursor_type="row")
            yield DataTable(id="sides", cursor_type="none")
            yield Static(id="merge-note")
            yield Label("", id="merge-error", classes="error")
        yield Footer()

    def on_mount(self) -> None:
        if self.refused():
            return
        # The year between the names keeps two right-to-left names apart on a bidi terminal.
        self.query_one("#pairs", DataTable).add_columns(_("Record 1"), _("Born"), _("Record 2"))
        table = self.query_one("#sides", DataTable)
        table.add_column(_("Record 1"), width=SIDE_WIDTH)
        table.add_column("", width=12)
        table.add_column(_("Record 2"), width=SIDE_WIDTH)
        self.load()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("keep", "merge"):
            return bool(self.records)
        if action == "undo":
            return self._undoable() is not None
        return True

    @on(Input.Changed, "#pair-search")
    def typed(self) -> None:
        self.load()

    @on(Input.Submitted, "#pair-search")
    def to_pairs(self) -> None:
        self.query_one("#pairs").focus()

    def on_key(self, event) -> None:
        # Down from the search box goes to the pairs, as on the home screen.
        if event.key == "down" and self.focused is self.query_one("#pair-search") and self.pairs:
            self.query_one("#pairs").focus()
            event.stop()

    @background(exclusive=True, group="pairs")
    async def load(self) -> None:
        query = self.query_one("#pair-search", Input).value
        try:
            self.pairs = await self.desk.duplicate_pairs(query)
        except FieldkitError as exc:
            self.query_one("#merge-error", Label).update(str(exc))
            return
        n = number(len(self.pairs))
        if query.strip():
            title = ngettext("{n} likely pair for this search", "{n} likely pairs for this search", len(self.pairs))
        else:
            title = ngettext("{n} pair flagged at registration", "{n} pairs flagged at registration", len(self.pairs))
        hint = " · " + _("Enter shows one") if self.pairs else ""
        self.query_one("#pairs-title", Static).update(title.format(n=n) + hint)
        table = self.query_one("#pairs", DataTable)
        table.clear()
        for pair in self.pairs:
            first, second = pair["first"], pair["second"]
            merged = " (" + _("merged") + ")" if pair["why"].get("merged") else ""
            table.add_row(first.full_name, f"{born(first)} / {born(second)}", second.full_name + merged)

    @on(DataTable.RowSelected, "#pairs")
    def chosen(self, event: DataTable.RowSelected) -> None:
        pair = self.pairs[event.cursor_row]
        self.show_pair(pair["first"].id, pair["second"].id, why(pair["why"]))

    @background(exclusive=True, group="pair")
    async def show_pair(self, first: str, second: str, reason: str) -> None:
        self.records = [await self.desk.patient(first), await self.desk.patient(second)]
        self.survivor = None
        self._draw_sides()
        choose = _("1 or 2: the record that stays; then F2 to merge")
        self._note(reason if self._undoable() else f"{reason}\n{choose}")
        self.query_one("#merge-error", Label).update("")
        self.refresh_bindings()

    def _draw_sides(self) -> None:
        table = self.query_one("#sides", DataTable)
        table.clear()
        for (label, left), (_label, right) in zip(*(sides(record) for record in self.records)):
            table.add_row(left, label, right)

    def _note(self, text: str) -> None:
        self.query_one("#merge-note", Static).update(text)

    def action_keep(self, side: int) -> None:
        self.survivor = side
        goes = self.records[1 - side]
        self._note(_("Record {stays} stays; record {goes} ({name}) will point to it. F2 to merge.").format(
            stays=number(side + 1), goes=number(2 - side), name=full_name(goes)))
        self.query_one("#merge-error", Label).update("")

    def action_merge(self) -> None:
        if any(record.get("merged_into") for record in self.records):
            self.query_one("#merge-error", Label).update(_("one of these records is merged already: F3 undoes it"))
            return
        if self.survivor is None:
            self.query_one("#merge-error", Label).update(_("choose the record that stays first: 1 or 2"))
            return
        stays, goes = self.records[self.survivor], self.records[1 - self.survivor]
        question = _("Merge {goes} ({goes_id}) into {stays} ({stays_id})? Encounters stay where they were "
                     "recorded; the merge can be undone.").format(
            goes=full_name(goes), goes_id=goes["id"], stays=full_name(stays), stays_id=stays["id"])

        def answered(sure: bool | None) -> None:
            if sure:
                self.merge(goes, stays)
        self.app.push_screen(ConfirmMerge(question), callback=answered)

    @background(exclusive=True, group="pair")
    async def merge(self, goes: dict[str, Any], stays: dict[str, Any]) -> None:
        try:
            await self.desk.merge(goes["id"], stays["id"])
        except FieldkitError as exc:
            self.query_one("#merge-error", Label).update(str(exc))
            return
        self.merged = (goes, stays)
        self.notify(_("Merged {goes} into {stays}.").format(goes=full_name(goes), stays=full_name(stays)))
        await self._after_change(_("Merged. F3 undoes it."))

    def _undoable(self) -> dict[str, Any] | None:
        """The record to unmerge: of the pair shown, the one merged into the other; else the merge just made."""
        if len(self.records) == 2:
            for goes, stays in (self.records, self.records[::-1]):
                if goes.get("merged_into") == stays["id"]:
                    return goes
        return self.merged[0] if self.merged is not None else None

    def action_undo(self) -> None:
        self.undo()

    @background(exclusive=True, group="pair")
    async def undo(self) -> None:
        goes = self._undoable()
        if goes is None:
            return
        try:
            await self.desk.unmerge(goes["id"])
        except FieldkitError as exc:
            self.query_one("#merge-error", Label).update(str(exc))
            return
        self.merged = None
        self.notify(_("Merge undone: {name} is a record of its own again.").format(name=full_name(goes)))
        await self._after_change(_("Merge undone."))

    async def _after_change(self, note: str) -> None:
        """Show the pair as it now stands, and the list without (or with again) the pair."""
        self.records = [await self.desk.patient(record["id"]) for record in self.records]
        self.survivor = None
        self._draw_sides()
        self._note(note)
        self.query_one("#merge-error", Label).update("")
        self.refresh_bindings()
        self.load()
