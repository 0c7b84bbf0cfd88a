"""Enrolling a laptop from the supervisor's screen: a one-time code, where to send it, and a QR
code holding both, which a scanner on the new laptop types into `fieldkit network join`.

The offer (fieldkit.sync.enrolment) listens while the screen is open and closes with it: a code
is good for one laptop, three wrong tries and ten minutes, and N makes a new one.
"""

from __future__ import annotations

import segno
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Static

from fieldkit.errors import FieldkitError
from fieldkit.i18n import N_, _, digits, number
from fieldkit.sync import ENROL_PORT, membership
from fieldkit.sync.discovery import lan_addresses
from fieldkit.sync.enrolment import EnrolmentRefused, Offer, join_link, new_code
from fieldkit.tui.base import RoleScreen, background
from fieldkit.tui.desk import off_loop
from fieldkit.tui.status import StatusBar

MINUTES = 10
# Half blocks draw two rows of modules per line, so a terminal cell (twice as tall as wide) holds
# a square pair; the quiet zone of four modules is what scanners need to find the code.
_HALVES = {(True, True): "█", (True, False): "▀", (False, True): "▄", (False, False): " "}
QUIET_ZONE = 4


def qr_lines(text: str) -> list[str]:
    """`text` as a QR code in half-block characters, dark modules drawn, with its quiet zone."""
    rows = [[bool(module) for module in row] for row in segno.make(text, error="m", micro=False)
            .matrix_iter(border=QUIET_ZONE)]
    if len(rows) % 2:
        rows.append([False] * len(rows[0]))
    return ["".join(_HALVES[top, bottom] for top, bottom in zip(upper, lower))
            for upper, lower in zip(rows[::2], rows[1::2])]


class EnrolScreen(RoleScreen):
    ACTION = "enrol laptops"
    REFUSAL = N_("Only a supervisor enrols laptops.")
    DEFAULT_CSS = """
    #enrol { padding: 0 1; }
    #enrol-text { width: 1fr; }
    #enrol-code { text-style: bold; margin: 1 0; }
    #enrol-qr { width: auto; }
    """
    BINDINGS = [
        Binding("n", "new_code", N_("New code"), id="new-code"),
        Binding("escape", "app.pop_screen", N_("Back"), id="back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.offer: Offer | None = None
        self.addresses: list[tuple[str, int]] = []
        self.can_enrol = False  # known once the network key is found: N offers a new code only then

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with Horizontal(id="enrol"):
            with Vertical(id="enrol-text"):
                yield Static(_("Enrol a laptop"), classes="title")
                yield Static(id="enrol-code")
                yield Static(id="enrol-how")
                yield Static(id="enrol-state")
            yield Static(id="enrol-qr")
        yield Footer()

    def on_mount(self) -> None:
        if not self.refused():
            self.action_new_code()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.can_enrol if action == "new_code" else True

    async def on_unmount(self) -> None:
        await self._close()

    async def _close(self) -> None:
        if self.offer is not None:
            offer, self.offer = self.offer, None
            await offer.close()

    @background(exclusive=True, group="enrol")
    async def action_new_code(self) -> None:
        await self._close()
        store = self.desk.store
        member = await off_loop(membership.load, store) if await off_loop(membership.member, store) else None
        self.can_enrol = member is not None and member.network_key is not None
        self.refresh_bindings()
        if member is None or member.network_key is None:
            self._say(_("This laptop cannot enrol others: only the laptop that created the network holds its key "
                        "(fieldkit network create)."))
            return
        self.offer = offer = Offer(new_code(), member.network_key, member.network, lifetime=MINUTES * 60.0)
        try:
            await offer.serve("0.0.0.0", ENROL_PORT)
        except OSError:  # `fieldkit network enrol` is listening too: any port will do, the QR says which
            await offer.serve("0.0.0.0", 0)
        self.addresses = [(address, offer.port) for address in await off_loop(lan_addresses)]
        self._show(offer, member.network.name)
        try:
            device = await offer.wait()
        except EnrolmentRefused as refused:
            if self.offer is offer:  # not replaced by a new code meanwhile
                self._state(_("No laptop joined: {reason}. Press N for a new code.").format(reason=refused))
            return
        except FieldkitError as exc:
            self._state(str(exc))
            return
        message = _("Laptop {device} joined {network}. It syncs with the others as soon as it is on the LAN.").format(
            device=device[:8], network=member.network.name)
        self._state(message + " " + _("Press N to enrol another."))
        self.notify(message)

    def _show(self, offer: Offer, network: str) -> None:
        code = offer.code
        self.query_one("#enrol-code", Static).update(
            _("Code: {code}   valid {minutes} minutes, for one laptop").format(code=digits(code),
                                                                               minutes=number(MINUTES)))
        where = [f"{host}:{port}" for host, port in self.addresses]
        self.query_one("#enrol-how", Static).update(
            _("Into {network}. On the new laptop, scan the QR code, or type:").format(network=network)
            + f"\n\n  fieldkit network join {code} {where[0] if where else 'ADDRESS'}\n\n"
            + _("Addresses of this laptop: {where}").format(where=", ".join(where) or "?"))
        qr = self.query_one("#enrol-qr", Static)
        if self.addresses:
            qr.update(Text("\n".join(qr_lines(join_link(code, self.addresses))), style="black on white"))
        else:
            qr.update(_("No network connection: the code can be typed once this laptop is on the LAN."))
        self._state(_("Waiting for the new laptop…"))

    def _state(self, words: str) -> None:
        self.query_one("#enrol-state", Static).update(words)

    def _say(self, words: str) -> None:
        for part in ("#enrol-code", "#enrol-how", "#enrol-qr"):
            self.query_one(part, Static).update("")
        self._state(words)
