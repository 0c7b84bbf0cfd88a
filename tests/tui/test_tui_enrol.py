"""Enrolling a laptop from the supervisor's sync screen: code, addresses and QR code, over the LAN."""

from __future__ import annotations

import asyncio

import pytest
import segno
from sync_support import PASSPHRASE, network, new_laptop
from tui_support import screen, sign_in, text, until

from fieldkit.sync import membership
from fieldkit.sync.enrolment import Unanswered, join_any, join_link, read_link
from fieldkit.tui.app import FieldkitApp
from fieldkit.tui.enrol import QUIET_ZONE, qr_lines

LOOPBACK = "127.0.0.1"


def modules(lines: list[str]) -> list[list[bool]]:
    """The QR modules drawn by `qr_lines`, read back from its half blocks."""
    tops = {"█": (1, 1), "▀": (1, 0), "▄": (0, 1), " ": (0, 0)}
    rows = []
    for line in lines:
        pairs = [tops[char] for char in line]
        rows += [[bool(top) for top, _ in pairs], [bool(bottom) for _, bottom in pairs]]
    return rows


def state(app) -> str:
    """The enrol screen's last word, once it is on screen."""
    found = app.screen.query("#enrol-state")
    return str(found.first().render()) if screen(app) == "EnrolScreen" and found else ""


@pytest.mark.parametrize("link", [
    join_link("482-913", [("192.168.1.10", 7301)]),
    join_link("000001", [("192.168.1.10", 7301), ("10.20.30.40", 40123)]),
])
def test_the_qr_code_draws_exactly_the_modules_of_the_join_link(link):
    expected = [[bool(m) for m in row] for row in segno.make(link, error="m", micro=False).matrix]
    drawn = modules(qr_lines(link))
    size = len(expected)
    assert all(len(row) == size + 2 * QUIET_ZONE for row in drawn)
    inner = [row[QUIET_ZONE:QUIET_ZONE + size] for row in drawn[QUIET_ZONE:QUIET_ZONE + size]]
    assert inner == expected
    border = drawn[:QUIET_ZONE] + drawn[QUIET_ZONE + size:] + [row[:QUIET_ZONE] + row[-QUIET_ZONE:] for row in drawn]
    assert not any(any(row) for row in border), "the quiet zone must stay light"


def test_a_join_link_gives_back_its_code_and_addresses():
    link = join_link("482 913", [("192.168.1.10", 7301), ("clinic-2.local", 40123)])
    assert link == "fieldkit:join?code=482913&at=192.168.1.10:7301,clinic-2.local:40123"
    assert read_link(link) == ("482913", [("192.168.1.10", 7301), ("clinic-2.local", 40123)])
    for broken in ("fieldkit:join?code=48291&at=1.2.3.4:7301", "fieldkit:join?code=482913", "482913 1.2.3.4",
                   "fieldkit:join?code=482913&at=1.2.3.4:7301;rm -rf"):
        with pytest.raises(Exception, match="not a join link"):
            read_link(broken)


async def test_a_supervisor_enrols_a_laptop_that_joins_with_the_code(tmp_path):
    [founder] = await asyncio.to_thread(network, tmp_path, 1)
    newcomer = await asyncio.to_thread(new_laptop, tmp_path, "newcomer")
    await asyncio.to_thread(founder.store.close)
    app = FieldkitApp(founder.home, user=founder.user.name)
    app.sync_interfaces = [LOOPBACK]
    async with app.run_test(size=(120, 40)) as pilot:
        await sign_in(pilot, PASSPHRASE)
        await pilot.press("f9")
        await until(pilot, lambda: screen(app) == "SyncScreen")
        await pilot.press("e")
        await until(pilot, lambda: screen(app) == "EnrolScreen" and app.screen.offer is not None
                    and app.screen.offer.port)
        offer = app.screen.offer
        assert f"Code: {offer.code}" in text(app, "#enrol-code")
        assert "Waiting for the new laptop" in text(app, "#enrol-state")
        if app.screen.addresses:  # a machine with a LAN address shows the QR code of the link
            assert "█" in text(app, "#enrol-qr")

        key = await asyncio.to_thread(membership.device_key, newcomer.store)
        with pytest.raises(Exception, match="wrong code"):
            wrong = "111-111" if offer.code != "111-111" else "222-222"
            await join_any(wrong, [(LOOPBACK, offer.port)], device_key=key)
        joined, certificate = await join_any(offer.code.replace("-", " "), [("127.0.0.2", 9), (LOOPBACK, offer.port)],
                                             device_key=key)
        await until(pilot, lambda: "joined Soc Trang mobile clinics" in text(app, "#enrol-state"))
        assert newcomer.device[:8] in text(app, "#enrol-state")
        member = await asyncio.to_thread(membership.join, newcomer.store, joined, certificate)
        assert member.network.id == founder.member.network.id

        # The code was for one laptop: a second one finds nobody listening. N makes a new code.
        with pytest.raises(Unanswered):
            await join_any(offer.code, [(LOOPBACK, offer.port)], device_key=key)
        await pilot.press("n")
        await until(pilot, lambda: app.screen.offer is not None and app.screen.offer is not offer
                    and app.screen.offer.port)
        second = app.screen.offer
        await pilot.press("escape")  # leaving the screen withdraws the code
        await until(pilot, lambda: screen(app) == "SyncScreen")
        with pytest.raises(Unanswered):
            await join_any(second.code, [(LOOPBACK, second.port)], device_key=key)
    await asyncio.to_thread(newcomer.store.close)


async def test_a_laptop_without_the_network_key_says_who_can_enrol(tmp_path):
    founder, other = await asyncio.to_thread(network, tmp_path, 2)
    await asyncio.to_thread(founder.store.close)
    await asyncio.to_thread(other.store.close)
    app = FieldkitApp(other.home, user=other.user.name)
    app.sync_interfaces = [LOOPBACK]
    async with app.run_test(size=(120, 40)) as pilot:
        await sign_in(pilot, PASSPHRASE)
        app.action_enrol()
        await until(pilot, lambda: "cannot enrol others" in state(app))
        assert app.screen.offer is None
