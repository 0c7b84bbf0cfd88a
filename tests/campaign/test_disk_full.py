"""T15: the disk fills up in the middle of saving. The write-logging shim (shim/iolog.c) makes the
k-th write of a 50-encounter workload fail with ENOSPC and keeps the disk full until the workload
frees the space; the workload saves through the `fieldkit` command line. Each failed save must say so
in one clear line (no traceback, not "wrong key"), keep nothing of itself, and succeed once the space
is freed; the database passes `fieldkit db check` with every encounter exactly once.

The clinic screen cannot be preloaded in-process, so there SQLite's own limit fills the file
(`PRAGMA max_page_count`, a real SQLITE_FULL): the message is shown, the typed entry stays on the
form, nothing is stored, and the same save succeeds, once, when the limit is raised.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
from pathlib import Path

from campaign_support import environment, io_log, iolog_shim, record, run, scaled, shimmed, verified
from sync_support import PASSPHRASE
from tui_support import FATIMA, open_encounter_for_fatima, screen, sign_in, until

from fieldkit.records.services import Clinic
from fieldkit.store.home import Home
from fieldkit.store.session import create_clinic, unlock
from fieldkit.sync.identity import new_device_key
from fieldkit.tui.app import FieldkitApp

FILLER = Path(__file__).with_name("disk_filler.py")
SAVES = 50
# After space is freed the disk fills again this many writes later: more than one save's writes
# (about 45: the shared-memory index, the WAL frames, the checkpoint at close), so the retry can succeed.
REFILL = 100
FULL = "error: the disk is full, so nothing was saved: free some space, then try again"
FAILED = "error: the disk could not be written (is it full?), so nothing was saved: free some space, then try again"


def clinic(folder: Path) -> tuple[Home, str]:
    home = Home(folder)
    key, device = new_device_key()
    store, user = create_clinic(home, supervisor="amina", passphrase=PASSPHRASE, device_id=device, device_key=key)
    with store:
        patient = Clinic(store, user).register(FATIMA).patient_id
    return home, patient


def saved_notes(home: Home) -> list[str]:
    store, _ = unlock(home, "amina", PASSPHRASE)
    with store:
        verified(store)
        # Each encounter row, with the notes of the journal entry it was folded from.
        return store.read(lambda conn: [json.loads(data)["notes"] for (data,) in conn.execute(
            "SELECT j.data FROM encounters e JOIN journal j ON j.origin = e.origin AND j.seq = e.seq")])


def test_a_full_disk_at_every_write_of_a_save_is_said_kept_out_and_retried(tmp_path, tmp_path_factory):
    shim = iolog_shim(tmp_path_factory.getbasetemp())
    # A clean run, logged, counts the workload's writes: the positions a fault may hit.
    home, patient = clinic(tmp_path / "clean")
    log = tmp_path / "clean.log"
    clean = run([sys.executable, str(FILLER), patient, str(SAVES)],
                shimmed(environment(home.path, "amina"), shim, home.path, log))
    assert clean.returncode == 0 and clean.stdout == "", clean.stderr
    writes = sum(op.kind == "write" for op in io_log(log))
    assert sorted(saved_notes(home)) == sorted(f"save-{n}" for n in range(SAVES))

    # Each run fills the disk at its write `first`, then again REFILL writes after each freeing: the
    # deep tier runs every `first` in 1..REFILL, so every write of the first period fails once.
    seed = int(os.environ.get("FIELDKIT_SEED") or random.randrange(10**6))
    print(f"disk-full seed: FIELDKIT_SEED={seed}")
    firsts = sorted(random.Random(seed).sample(range(1, REFILL + 1), scaled(3, REFILL)))
    faults = 0
    for first in firsts:
        home, patient = clinic(tmp_path / f"full-{first}")
        flag = tmp_path / f"full-{first}.flag"
        filled = run([sys.executable, str(FILLER), patient, str(SAVES)],
                     shimmed(environment(home.path, "amina"), shim, home.path, enospc_at=str(first),
                             enospc_every=str(REFILL), full_flag=str(flag)))
        assert filled.returncode == 0, filled.stderr
        failures = [json.loads(line) for line in filled.stdout.splitlines()]
        assert failures and not flag.exists()
        for failure in failures:
            assert failure["status"] == 1 and failure["full"], failure
            assert failure["stderr"].strip() in (FULL, FAILED), failure  # one line, and what to do
            assert failure["retry"] == 0, failure  # the same save, once space was freed
        # Nothing of a failed save was kept: each encounter is there once, and the database checks.
        assert sorted(saved_notes(home)) == sorted(f"save-{n}" for n in range(SAVES))
        faults += len(failures)
    record(tmp_path_factory, "T15 disk full", writes=writes, faults=faults, runs_full=len(firsts), lost=0)


async def test_the_clinic_screen_keeps_the_entry_when_the_disk_is_full(tmp_path, tmp_path_factory):
    home, _ = await asyncio.to_thread(clinic, tmp_path / "clinic")
    app = FieldkitApp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, PASSPHRASE)
        await open_encounter_for_fatima(pilot)
        for reading in ("39.2", "118", "24"):  # temperature, pulse, respiratory rate
            await pilot.press(*reading, "tab")
        form = app.screen
        form.query_one("#notes").value = "N" * 4500  # a record bigger than a page: the save needs new pages
        await pilot.pause(0.5)
        await app.workers.wait_for_complete()  # the draft is kept before the disk fills
        store = app.signed_in_desk.store

        def limit(pages: int | None) -> None:
            # On the writer connection: the file may not grow past the pages it has (SQLITE_FULL).
            def job(conn) -> None:
                count = conn.execute("PRAGMA page_count").fetchone()[0]
                assert conn.execute("PRAGMA freelist_count").fetchone()[0] == 0  # no free page to reuse
                conn.execute(f"PRAGMA max_page_count = {pages or count}")
            store._writer.call(job)

        def encounters() -> int:
            return store.read(lambda conn: conn.execute("SELECT count(*) FROM encounters").fetchone()[0])

        await asyncio.to_thread(limit, None)
        await pilot.press("f2")
        await until(pilot, lambda: any("disk is full" in str(n.message) for n in app._notifications))
        assert screen(app) == "EncounterScreen"
        assert [form.query_one(f"#{name}").value for name in ("temperature_c", "pulse", "resp_rate")] == \
            ["39.2", "118", "24"]
        assert form.query_one("#notes").value == "N" * 4500
        assert await asyncio.to_thread(encounters) == 0

        await asyncio.to_thread(limit, 1_073_741_823)  # space freed
        await pilot.press("f2")
        await until(pilot, lambda: screen(app) == "ChartScreen")
        assert await asyncio.to_thread(encounters) == 1
        await asyncio.to_thread(verified, store)
    record(tmp_path_factory, "T15 disk full", screen_saves_refused=1, lost=0)
