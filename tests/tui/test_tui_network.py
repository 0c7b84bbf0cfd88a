"""A supervisor revokes a lost laptop and a user from the clinic screen, by keys alone, and folds
what the laptop held back once she judges it sound (issue 15: the quarantine is a supervisor's)."""

from __future__ import annotations

import asyncio

from sync_support import PASSPHRASE, network
from tui_support import PASSPHRASE as CLINIC
from tui_support import screen, sign_in, text, until

from fieldkit.store.keystore import Keystore
from fieldkit.store.session import add_user, unlock
from fieldkit.tui.app import FieldkitApp
from fieldkit.tui.users import UsersScreen


def relay(source, to) -> None:
    """What a LAN session would carry from `source` to `to` (verification is sync's own test)."""
    to.ingest(source.entries_after(to.version_vector(), 10**6))


def patients(store) -> set[str]:
    return set(store.read(lambda conn: [row[0] for row in conn.execute("SELECT given_name FROM patients")]))


async def test_a_supervisor_revokes_a_laptop_and_releases_what_it_held(tmp_path):
    base, lost = await asyncio.to_thread(network, tmp_path, 2)
    await asyncio.to_thread(lost.clinic.register, {"given_name": "Before", "family_name": "Revocation", "sex": "male"})
    await asyncio.to_thread(relay, lost.store, base.store)
    fork = "two laptops write as one (laptop 5e1f0a2b at #3)"  # as sync/forks.py words it
    await asyncio.to_thread(lambda: base.store.record_peer(lost.device, address="10.0.0.7:7300", vector=None,
                                                          error=fork))
    await asyncio.to_thread(base.store.close)
    app = FieldkitApp(base.home, user=base.user.name)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, PASSPHRASE)
        await pilot.press("f9", "l")
        await until(pilot, lambda: screen(app) == "NetworkScreen" and app.screen.query_one("#laptops").row_count == 2)
        store = app.desk.store
        assert fork in str(app.screen.query_one("#laptops").get_row_at(1))  # the supervisor's alert
        await pilot.press("f2")  # this laptop, first in the list, cannot be revoked
        await until(pilot, lambda: "not revoked yet" in text(app, "#network-message"))
        await pilot.press("down", "f2")
        await until(pilot, lambda: "F2 again" in text(app, "#network-message"))
        assert await asyncio.to_thread(store.revoked) == set()  # one press only asks
        await pilot.press("f2")
        await until(pilot, lambda: "revoked after" in str(app.screen.query_one("#laptops").get_row_at(1)))
        assert await asyncio.to_thread(store.revoked) == {lost.device}

        # The lost laptop, unaware, writes on; what it wrote after the cut-off is held, not folded.
        await asyncio.to_thread(lost.clinic.register, {"given_name": "After", "family_name": "Revocation",
                                                       "sex": "female"})
        await asyncio.to_thread(relay, lost.store, store)
        assert await asyncio.to_thread(patients, store) == {"Before"}
        await pilot.press("escape", "l")
        await until(pilot, lambda: screen(app) == "NetworkScreen" and app.screen.query_one("#laptops").row_count == 2)
        await pilot.press("down")
        await until(pilot, lambda: app.screen.query_one("#held").row_count >= 1)
        app.screen.query_one("#held").focus()
        await pilot.press("end", "f3")
        await until(pilot, lambda: "F3 again" in text(app, "#network-message"))
        await pilot.press("f3")
        await until(pilot, lambda: app.screen.query_one("#held").row_count == 0)
        assert await asyncio.to_thread(patients, store) == {"Before", "After"}
    lost.store.close()


async def test_a_supervisor_revokes_a_user_with_two_presses(home):
    store, _ = await asyncio.to_thread(unlock, home, "amina", CLINIC)
    await asyncio.to_thread(add_user, home, store, by="amina", by_passphrase=CLINIC, name="hoa", role="clerk",
                            passphrase="hoa's passphrase")
    await asyncio.to_thread(store.close)
    app = FieldkitApp(home, user="amina")
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await app.push_screen(UsersScreen())
        await until(pilot, lambda: screen(app) == "UsersScreen" and app.screen.query_one("#user-list").row_count == 2)
        await pilot.press("f4")  # amina herself: asked, then refused
        await until(pilot, lambda: "F4 again" in text(app, "#users-error"))
        await pilot.press("f4")
        await until(pilot, lambda: "cannot revoke yourself" in text(app, "#users-error"))
        await pilot.press("down", "f4")
        await until(pilot, lambda: "F4 again" in text(app, "#users-error"))
        await pilot.press("f4")
        await until(pilot, lambda: app.screen.query_one("#user-list").row_count == 1)
        assert [user.name for user in await asyncio.to_thread(Keystore(home.keystore).users)] == ["amina"]
        hoa = await asyncio.to_thread(app.desk.store.read, lambda conn: conn.execute(
            "SELECT id FROM users WHERE name = 'hoa'").fetchone()[0])
        assert await asyncio.to_thread(app.desk.store.user_revoked, hoa)
