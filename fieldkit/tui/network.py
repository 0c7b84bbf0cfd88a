"""The laptops of this clinic's network, from the supervisor's side: revoke a lost one, and look at
what a revoked laptop wrote after its cut-off, which every laptop holds back from its tables
until a supervisor releases it (store/holdback.py). Both are signed with the network key and
spread with the next syncs. Each asks for its key twice: a revocation cannot be taken back.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Input, Label, Static

from fieldkit.errors import FieldkitError
from fieldkit.i18n import N_, _, moment, number
from fieldkit.tui.base import RoleScreen, background
from fieldkit.tui.desk import Laptop
from fieldkit.tui.status import StatusBar


class NetworkScreen(RoleScreen):
    ACTION = "enrol laptops"
    REFUSAL = N_("Only a supervisor revokes laptops.")
    DEFAULT_CSS = """
    #network { padding: 0 1; }
    #laptops { height: 6; }
    #held { height: 6; }
    #network-reason { margin: 1 0 0 0; }
    #network-message, #refusal { width: 1fr; height: auto; }
    """
    BINDINGS = [
        Binding("f2", "revoke", N_("Revoke laptop"), id="revoke-laptop", priority=True),
        Binding("f3", "release", N_("Release entries"), id="release-entries", priority=True),
        Binding("escape", "app.pop_screen", N_("Back"), id="back"),
        Binding("f12", "app.lock", N_("Lock"), id="lock"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.laptops: list[Laptop] = []
        self.armed: tuple[str, str, int] | None = None  # the action F2 or F3 was pressed once for

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with VerticalScroll(id="network"):
            yield Static(_("Laptops in this network"), classes="title")
            yield DataTable(id="laptops", cursor_type="row")
            yield Static(id="refusal", classes="error")
            yield Static(id="held-title")
            yield DataTable(id="held", cursor_type="row")
            yield Input(id="network-reason", compact=True,
                        placeholder=_("Reason, kept with the revocation or release (lost, stolen, checked…)"))
            yield Label("", id="network-message", classes="error")
        yield Footer()

    def on_mount(self) -> None:
        if self.refused():
            return
        self.query_one("#laptops", DataTable).add_columns(_("Laptop"), _("State"), _("Held"),
                                                             _("Last session refused"))
        self.query_one("#held", DataTable).add_columns("#", _("Entry"), _("By"), _("Its own clock says"))
        self.load()

    @background(exclusive=True, group="network")
    async def load(self) -> None:
        self.laptops = await self.desk.laptops()
        table = self.query_one("#laptops", DataTable)
        row = table.cursor_row
        table.clear()
        for laptop in self.laptops:
            table.add_row(laptop.device[:8], self._state(laptop), number(len(laptop.held)), laptop.refusal)
        table.move_cursor(row=min(row, len(self.laptops) - 1))
        table.focus()
        self._show_held()

    def _state(self, laptop: Laptop) -> str:
        if laptop.this:
            return _("this laptop")
        if laptop.cutoff is not None:
            return _("revoked after #{seq}").format(seq=number(laptop.cutoff))
        return ""

    def _chosen(self) -> Laptop | None:
        row = self.query_one("#laptops", DataTable).cursor_row
        return self.laptops[row] if 0 <= row < len(self.laptops) else None

    @on(DataTable.RowHighlighted, "#laptops")
    def _show_held(self, _event: object = None) -> None:
        laptop, held = self._chosen(), self.query_one("#held", DataTable)
        held.clear()
        self.armed = None
        self.query_one("#refusal", Static).update(laptop.refusal if laptop else "")  # the table cuts it short
        if laptop is None or laptop.cutoff is None:
            self.query_one("#held-title", Static).update(_("Choose a revoked laptop to see what it wrote after its "
                                                           "cut-off."))
            return
        self.query_one("#held-title", Static).update(
            _("Held from laptop {device}: written after its cut-off, in no table until released (F3 releases up "
              "to the highlighted one)").format(device=laptop.device[:8]))
        for entry in laptop.held:
            held.add_row(number(entry.seq), f"{entry.op} {entry.entity}", entry.author, moment(entry.claimed))

    def _say(self, message: str) -> None:
        self.query_one("#network-message", Label).update(message)

    def _confirmed(self, action: str, device: str, seq: int, question: str) -> bool:
        """True on the second press for the same laptop and entry; the first only asks."""
        if self.armed == (action, device, seq):
            self.armed = None
            return True
        self.armed = (action, device, seq)
        self._say(question)
        return False

    def action_revoke(self) -> None:
        laptop = self._chosen()
        if laptop is None or laptop.this or laptop.cutoff is not None:
            self._say(_("choose another laptop that is not revoked yet"))
            return
        if self._confirmed("revoke", laptop.device, 0, _(
                "Press F2 again to revoke laptop {device}: it can no longer sync, and what it writes from now on "
                "is held on every laptop.").format(device=laptop.device[:8])):
            self.revoke(laptop.device)

    @background(exclusive=True, group="change")
    async def revoke(self, device: str) -> None:
        try:
            cutoff = await self.desk.revoke_laptop(device, self.query_one("#network-reason", Input).value)
        except FieldkitError as exc:
            self._say(str(exc))
            return
        self._done(_("Laptop {device} revoked: its entries up to #{seq} stand; the revocation spreads with the "
                     "next syncs.").format(device=device[:8], seq=number(cutoff)))

    def action_release(self) -> None:
        laptop, row = self._chosen(), self.query_one("#held", DataTable).cursor_row
        if laptop is None or not 0 <= row < len(laptop.held):
            self._say(_("choose a held entry of a revoked laptop first"))
            return
        seq = laptop.held[row].seq
        if self._confirmed("release", laptop.device, seq, _(
                "Press F3 again to fold laptop {device}'s held entries up to #{seq} into every laptop's records.")
                .format(device=laptop.device[:8], seq=number(seq))):
            self.release(laptop.device, seq)

    @background(exclusive=True, group="change")
    async def release(self, device: str, seq: int) -> None:
        try:
            await self.desk.release_laptop(device, seq, self.query_one("#network-reason", Input).value)
        except FieldkitError as exc:
            self._say(str(exc))
            return
        self._done(_("Released laptop {device}'s entries up to #{seq}.").format(device=device[:8], seq=number(seq)))

    def _done(self, message: str) -> None:
        self.query_one("#network-reason", Input).value = ""
        self._say("")
        self.notify(message)
        self.load()
