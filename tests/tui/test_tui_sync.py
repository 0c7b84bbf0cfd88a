"""The clinic screen runs the sync engine: a peer on the LAN appears, syncs, and is shown."""

from __future__ import annotations

import asyncio

from hub_support import enrol_hub, running_hub
from sync_support import PASSPHRASE, network
from tui_support import screen, sign_in, text, until

from fieldkit.sync.engine import Engine
from fieldkit.tui.app import FieldkitApp
from fieldkit.tui.status import clock

LAN = ["127.0.0.1"]


async def test_a_peer_is_found_synced_and_shown_with_its_history(tmp_path):
    here, there = await asyncio.to_thread(network, tmp_path, 2)
    await asyncio.to_thread(here.store.close)  # the app opens this laptop's clinic itself
    app = FieldkitApp(here.home, user=here.user.name)
    app.sync_interfaces = LAN
    async with Engine(there.store, there.member, host="127.0.0.1", interfaces=LAN), \
            app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, PASSPHRASE)
        patient = await asyncio.to_thread(there.clinic.register, {"given_name": "Hương", "family_name": "Trần",
                                                                  "sex": "female"})
        await until(pilot, lambda: any(p.device == there.device and p.last_sync for p in app.sync_state.peers), 20)
        assert app.sync_state.network == "Soc Trang mobile clinics"
        assert "1 peer" in text(app, "StatusBar")

        await pilot.press("f9")
        await until(pilot, lambda: screen(app) == "SyncScreen")
        body = text(app, "#sync-body")
        assert "Network: Soc Trang mobile clinics" in body
        assert there.device[:8] in body and "synced at" in body
        assert "received" in body  # the history line of the session
        assert "Refused" not in body

        # A stray connection (plain HTTP, not TLS) is counted and told, with its address.
        _, stray = await asyncio.open_connection("127.0.0.1", app.engine.server.port)
        stray.write(b"GET / HTTP/1.1\r\n\r\n")
        await until(pilot, lambda: "Refused connections: 1" in text(app, "#sync-body"))
        assert "refused: it speaks plain HTTP, not TLS" in text(app, "#sync-body")
        stray.close()

        found = await app.desk.search("Hương")
        assert [p.id for p in found] == [patient.patient_id]
    await asyncio.to_thread(there.store.close)


async def test_a_laptop_in_no_network_says_so(home):
    app = FieldkitApp(home)
    async with app.run_test() as pilot:
        await sign_in(pilot)
        await pilot.press("f9")
        await until(pilot, lambda: screen(app) == "SyncScreen")
        assert "in no network yet" in text(app, "#sync-body")
        assert app.engine is None


async def test_the_clinic_screen_forwards_to_the_hub_and_shows_its_last_success(tmp_path):
    [laptop] = await asyncio.to_thread(network, tmp_path, 1)
    enrol_hub(tmp_path / "hub", laptop)
    async with running_hub(tmp_path / "hub", f"sqlite:///{tmp_path / 'hub' / 'hub.db'}") as hub:
        await asyncio.to_thread(laptop.store.set_meta, {"hub_url": hub.url})
        await asyncio.to_thread(laptop.store.close)
        app = FieldkitApp(laptop.home, user=laptop.user.name)
        app.sync_interfaces = LAN
        async with app.run_test(size=(100, 30)) as pilot:
            await sign_in(pilot, PASSPHRASE)
            await until(pilot, lambda: app.sync_state.hub_last is not None, 20)
            assert f"hub {clock(app.sync_state.hub_last)}, 0 pending" in text(app, "StatusBar")
            await pilot.press("f9")
            await until(pilot, lambda: screen(app) == "SyncScreen")
            body = text(app, "#sync-body")
            assert f"Hub: {hub.url}" in body and "Pending for hub: 0" in body and "last success" in body
        held = await asyncio.to_thread(hub.storage.count)
    assert held > 0  # the laptop's supervisor and certificate entries, forwarded with no command
