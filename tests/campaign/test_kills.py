"""T1/T2: kill -9 at every crash point (fieldkit/crashpoints.py) of a local save, of a LAN session
on the receiving and on the sending side, and of an upload to the hub on either side. Afterwards:
nothing acknowledged is lost, every chain and the audit chain verify, and the next run resumes
with no entry stored twice. Each test adds its figures to the campaign's table."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from campaign_support import environment_of, fieldkit, record, run, scaled, verified
from hub_support import enrol_hub, hub_process, open_storage, running_hub
from sync_support import PASSPHRASE, journal, network, serving

from fieldkit.crashpoints import POINTS
from fieldkit.records.services import Clinic
from fieldkit.store.session import unlock
from fieldkit.sync.forwarder import HubClient, HubUnreachable, push

SAVER = Path(__file__).with_name("saver.py")
KILLED = -9


def reopened(laptop):
    store, user = unlock(laptop.home, laptop.user.name, PASSPHRASE)
    return store, user


def register(clinic: Clinic, count: int, tag: str) -> None:
    for number in range(count):
        clinic.register({"given_name": f"{tag}{number}", "family_name": "Campaign", "sex": "male"})


def register_closed(laptop, count: int, tag: str) -> None:
    """Register on a laptop whose store this test does not hold open (its processes open it)."""
    store, user = reopened(laptop)
    with store:
        register(Clinic(store, user), count, tag)


def test_every_crash_point_is_placed_in_the_code():
    source = "".join(path.read_text() for path in Path("fieldkit").rglob("*.py") if path.name != "crashpoints.py")
    assert [point for point in POINTS if f'crashpoint("{point}")' not in source] == []


@pytest.mark.parametrize("point", ["store.write.before_commit", "store.write.after_commit"])
def test_a_save_killed_at_each_point_loses_nothing_it_acknowledged(tmp_path, tmp_path_factory, point):
    [laptop] = network(tmp_path, 1)
    laptop.store.close()  # the saving process opens it
    acknowledged: list[str] = []
    kills = scaled(60, 90)
    for n in range(1, kills + 1):
        saving = run([sys.executable, str(SAVER), "100"], environment_of(laptop, f"{point}:{n}"))
        assert saving.returncode == KILLED, saving.stderr
        printed = saving.stdout.split()
        assert len(printed) == n - 1  # it died at its n-th save, having acknowledged the ones before
        acknowledged += printed
    store, user = reopened(laptop)
    with store:
        verified(store)
        held = set(store.read(lambda conn: [row[0] for row in conn.execute("SELECT id FROM patients")]))
        lost = set(acknowledged) - held
        Clinic(store, user).register({"given_name": "After", "family_name": "Campaign", "sex": "male"})
        verified(store)
    assert not lost
    # Killed before its commit, a save is not there; killed after it, it is, unacknowledged.
    assert len(held) == len(acknowledged) + (kills if point.endswith("after_commit") else 0)
    record(tmp_path_factory, "T1 kill -9 in a local save", kills=kills, lost=len(lost), chains="verify")


async def _lan_rounds(tmp_path, point: str, side: str) -> tuple[int, int]:
    """Rounds of: the source saves more, a `fieldkit sync now` process (receiving from, or sending
    to, a laptop served here) is killed at `point`, then runs again unarmed to the end."""
    there, here = await asyncio.to_thread(network, tmp_path, 2)  # `here` runs in the killed process
    await asyncio.to_thread(here.store.close)
    source = there if side == "receiving" else here
    kills = scaled(25, 45)
    resent = 0
    async with serving(there) as server:
        for round_number in range(kills):
            count, tag = 40 + 30 * (round_number % 5), f"r{round_number}-"
            if source is there:
                await asyncio.to_thread(register, there.clinic, count, tag)
            else:
                await asyncio.to_thread(register_closed, here, count, tag)
            address = f"127.0.0.1:{server.port}"
            killed = fieldkit(here, "sync", "now", address, point=point, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
            assert await asyncio.to_thread(killed.wait, 120) == KILLED
            await asyncio.wait_for(server.sessions.get(), 30)  # the served side saw it end
            again = fieldkit(here, "sync", "now", address, "--json", stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
            out, _ = await asyncio.to_thread(again.communicate, timeout=120)
            assert again.returncode == 0, out
            report, _ = await asyncio.wait_for(server.sessions.get(), 30)
            resent += report.already_held if side == "sending" else 0
    store, _ = await asyncio.to_thread(reopened, here)
    with store:
        await asyncio.to_thread(verified, store)
        verified(there.store)
        here_journal = {entry.row() for entry in store.entries_after({}, 10**9)}
    assert here_journal == journal(there)  # every entry on both, each once (the journal's key)
    there.store.close()
    return kills, resent


@pytest.mark.parametrize(("point", "side"), [("sync.recv.after_verify", "receiving"),
                                             ("sync.recv.after_apply", "receiving"),
                                             ("sync.send.after_batch", "sending")])
async def test_a_lan_session_killed_at_each_point_resumes_without_loss_or_repeats(tmp_path, tmp_path_factory,
                                                                                   point, side):
    kills, resent = await _lan_rounds(tmp_path, point, side)
    record(tmp_path_factory, f"T2 kill -9 in a LAN session ({side})", kills=kills, lost=0, chains="verify",
           resent=resent)


@pytest.mark.parametrize("point", ["hub.upload.before_store", "hub.upload.after_store"])
async def test_the_hub_killed_at_each_point_of_an_upload_stores_each_entry_once(tmp_path, tmp_path_factory, point):
    [laptop] = await asyncio.to_thread(network, tmp_path, 1)
    enrol_hub(tmp_path / "hub", laptop)
    url = f"sqlite:///{tmp_path / 'hub' / 'hub.db'}"
    kills = scaled(20, 35)
    for round_number in range(kills):
        await asyncio.to_thread(register, laptop.clinic, 20, f"h{round_number}-")
        with hub_process(tmp_path / "hub", url, point=point) as (process, address):
            with pytest.raises(HubUnreachable):  # it died mid-request
                await push(laptop.store, laptop.member, address, first_batch=10,
                           client=HubClient(address, laptop.member, attempts=2))
            assert process.wait(30) == KILLED
        with hub_process(tmp_path / "hub", url) as (_, address):
            await push(laptop.store, laptop.member, address)
    storage = open_storage(url)
    stored, vector = storage.count(), storage.version_vector()
    storage.close()
    entries = journal(laptop)
    assert stored == len(entries) and vector == laptop.store.version_vector()
    verified(laptop.store)
    laptop.store.close()
    record(tmp_path_factory, "T2 kill -9 in the hub during an upload", kills=kills, lost=0, chains="verify")


async def test_a_laptop_killed_after_the_hubs_ack_resends_at_most_that_batch(tmp_path, tmp_path_factory):
    [laptop] = await asyncio.to_thread(network, tmp_path, 1)
    await asyncio.to_thread(laptop.store.close)
    enrol_hub(tmp_path / "hub", laptop)
    url = f"sqlite:///{tmp_path / 'hub' / 'hub.db'}"
    kills = scaled(20, 35)
    async with running_hub(tmp_path / "hub", url) as hub:
        for round_number in range(kills):
            await asyncio.to_thread(register_closed, laptop, 20, f"a{round_number}-")
            killed = fieldkit(laptop, "hub", "push", "--url", hub.url, point="hub.push.after_ack",
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            assert await asyncio.to_thread(killed.wait, 120) == KILLED
            done = fieldkit(laptop, "hub", "push", "--json", stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            out, _ = await asyncio.to_thread(done.communicate, timeout=120)
            assert done.returncode == 0, out
        stored = await asyncio.to_thread(hub.storage.count)
    store, _ = await asyncio.to_thread(reopened, laptop)
    with store:
        assert stored == len(store.entries_after({}, 10**9))
        verified(store)
    record(tmp_path_factory, "T2 kill -9 in a laptop pushing to the hub", kills=kills, lost=0, chains="verify")
