"""The clinic screen beside other fieldkit processes on the same data directory, as the README
invites: a command in a second shell, then the screen goes on saving. Before the store allocated
sequence and audit numbers inside each transaction, the screen's next save failed on audit.seq
with a traceback and lost its journal entry."""

from __future__ import annotations

import asyncio
import json
import os
import sys

from tui_support import PASSPHRASE, open_encounter_for_fatima, save_an_encounter, screen, sign_in, until

from fieldkit.store.maintenance import check
from fieldkit.store.session import unlock
from fieldkit.tui.app import FieldkitApp
from fieldkit.tui.users import UsersScreen

HOA = "hoa's own phrase"


async def fieldkit(home, *args: str) -> dict | list:
    """A command in another shell: its own process on the same data directory."""
    env = {**os.environ, "FIELDKIT_HOME": str(home.path), "FIELDKIT_PASSPHRASE": PASSPHRASE, "FIELDKIT_USER": "amina"}
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "fieldkit", *args, "--json", env=env,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return json.loads(out)


def whole(home) -> dict:
    store, _ = unlock(home, "amina", PASSPHRASE)
    try:
        return check(store) | {"users": dict(store.read(lambda conn: conn.execute("SELECT name, role FROM users")
                                                       .fetchall()))}
    finally:
        store.close()


async def test_a_command_in_another_shell_then_saves_on_the_screen(home):
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await open_encounter_for_fatima(pilot)  # the chart's opening is audited by the screen
        await save_an_encounter(pilot, "37.2")  # and the screen journals a save
        [fatima] = await fieldkit(home, "patient", "search", "fatima")
        shown = await fieldkit(home, "patient", "show", fatima["id"])  # audited by the other process
        added = await fieldkit(home, "patient", "add", "--given", "Minh", "--family", "Tran")
        await pilot.press("f5")  # back on the screen: another save
        await until(pilot, lambda: screen(app) == "EncounterScreen")
        await save_an_encounter(pilot, "38.4")
        assert len(app.screen.record["encounters"]) == 2
        await pilot.press("escape")  # and open the other process's patient
        await until(pilot, lambda: screen(app) == "HomeScreen")
        app.screen.query_one("#search").value = ""
        await pilot.press(*"minh")
        await until(pilot, lambda: app.screen.query_one("#results").row_count == 1)
        await pilot.press("enter")
        await until(pilot, lambda: screen(app) == "ChartScreen" and app.screen.record is not None)
        assert app.screen.record["id"] == added["id"] and shown["id"] == fatima["id"]
    report = await asyncio.to_thread(whole, home)
    assert report["ok"] and report["patients"] == 2 and report["encounters"] == 2
    assert report["audit_rows"] >= 2 + 1 + 2 + 4  # registrations, the encounters, and chart openings


async def test_a_user_added_on_f10_beside_another_process_is_in_the_journal_too(home):
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot)
        await fieldkit(home, "patient", "add", "--given", "Minh")  # the other process writes first
        await app.push_screen(UsersScreen())
        await until(pilot, lambda: screen(app) == "UsersScreen" and app.screen.query_one("#user-list").row_count == 1)
        app.screen.query_one("#name").focus()
        await pilot.press(*"hoa", "tab", "tab", "tab", *HOA, "tab", *HOA, "tab", *PASSPHRASE, "f2")
        await until(pilot, lambda: app.screen.query_one("#user-list").row_count == 2, 30)
        assert "hoa" in str(app.screen.query_one("#user-list").get_row_at(1))
    report = await asyncio.to_thread(whole, home)
    assert report["ok"] and report["users"].get("hoa") == "clinician"  # her grant, for every laptop to read
