"""Back up to a stick from the palette: the folder, the passphrase again, F2; refusals in one line."""

from __future__ import annotations

import asyncio
import json

from textual.widgets import Input
from tui_support import PASSPHRASE, all_drawn, screen, sign_in, until

from fieldkit.tui.app import FieldkitApp


async def test_back_up_to_a_stick_from_the_palette(home, tmp_path):
    stick = tmp_path / "stick"
    stick.mkdir()
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await pilot.press("ctrl+p", *"back up to a stick")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await until(pilot, lambda: screen(app) == "BackupScreen")
        error = app.screen.query_one("#backup-error")

        async def back_up(folder: str, passphrase: str) -> None:
            app.screen.query_one("#destination", Input).value = folder
            app.screen.query_one("#passphrase", Input).focus()
            await pilot.press(*passphrase, "enter")

        await back_up(str(tmp_path / "no stick"), PASSPHRASE)
        await until(pilot, lambda: "is the stick mounted" in str(error.render()))
        await back_up(str(stick), "not my passphrase")
        await until(pilot, lambda: "wrong passphrase" in str(error.render()))
        assert list(stick.iterdir()) == []  # refusals write nothing

        await back_up(str(stick), PASSPHRASE)
        await until(pilot, lambda: "Backed up" in str(app.screen.query_one("#backup-result").render()), 30)
        await all_drawn(pilot, ["Backed up", "entries"])
        assert app.screen.query_one("#passphrase", Input).value == ""  # not left on screen
        refused = await asyncio.to_thread(app.desk.store.read, lambda conn: conn.execute(
            "SELECT count(*) FROM audit WHERE action = 'sign-in refused' AND user = ?",
            (app.desk.user.id,)).fetchone()[0])
        assert refused == 1  # the wrong passphrase is audited, as at the lock screen
    [folder] = stick.iterdir()
    manifest = await asyncio.to_thread(lambda: json.loads((folder / "manifest.json").read_text()))
    assert manifest["entries"] >= 2
