"""`fieldkit backup` from a second shell while the clinic screen saves, and `fieldkit restore` onto a
fresh data directory: the same records, the same state hash, and one-line refusals (issue 19)."""

from __future__ import annotations

import asyncio
import json
import os
import sys

from tui_support import PASSPHRASE, open_encounter_for_fatima, save_an_encounter, sign_in

from fieldkit.records.services import Clinic
from fieldkit.store.home import Home
from fieldkit.store.maintenance import check
from fieldkit.store.session import unlock
from fieldkit.tui.app import FieldkitApp


async def fieldkit(home: Home, *args: str, expect: int = 0) -> tuple[str, str]:
    env = {**os.environ, "FIELDKIT_HOME": str(home.path), "FIELDKIT_PASSPHRASE": PASSPHRASE}
    env.pop("FIELDKIT_DEBUG", None)
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "fieldkit", *args, env=env,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()
    assert process.returncode == expect, err.decode()
    return out.decode(), err.decode()


def seeded(home: Home) -> None:
    store, user = unlock(home, "amina", PASSPHRASE)
    with store:
        for n in range(300):  # a clinic with some weight to copy
            Clinic(store, user).register({"given_name": f"Minh {n}", "family_name": "Trần", "sex": "male"})


def checked(home: Home) -> dict:
    store, _ = unlock(home, "amina", PASSPHRASE)
    with store:
        return check(store)


async def test_backup_while_the_screen_saves_then_restore_on_a_new_laptop(home, tmp_path):
    await asyncio.to_thread(seeded, home)
    stick = tmp_path / "stick"
    stick.mkdir()
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await open_encounter_for_fatima(pilot)
        backing_up = asyncio.create_task(fieldkit(home, "backup", str(stick), "--json"))
        await save_an_encounter(pilot, "37.9")  # the screen saves while the other process copies
        out, _ = await backing_up
        made = json.loads(out)
        assert len(app.screen.record["encounters"]) == 1
    [folder] = stick.iterdir()
    assert made["folder"] == str(folder)
    manifest = json.loads((folder / "manifest.json").read_text())

    new = Home(tmp_path / "new laptop")
    out, _ = await fieldkit(new, "restore", str(folder), "--json")
    restored = json.loads(out)
    after = await asyncio.to_thread(checked, new)
    assert after["ok"] and after["state_hash"] == manifest["state"] == restored["state"]
    assert after["journal_entries"] == manifest["entries"] == made["entries"]
    assert restored["old_laptop"] == manifest["device"] != restored["new_laptop"]
    assert not restored["enrolled"]

    # bad input: one line, nothing changed
    before = new.database.read_bytes()
    _, err = await fieldkit(new, "restore", str(folder), expect=1)
    assert err.startswith("error: there is already a clinic") and err.count("\n") == 1
    assert new.database.read_bytes() == before
    env_home = Home(tmp_path / "elsewhere")
    _, err = await fieldkit(env_home, "restore", str(tmp_path), expect=1)
    assert "not a fieldkit backup" in err and err.count("\n") == 1
    assert not env_home.database.exists()
