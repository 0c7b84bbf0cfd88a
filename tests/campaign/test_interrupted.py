"""T14: a process killed at every point of adding a user, enrolling a laptop and re-keying the hub
leaves a clinic that opens, whole, with the keys it had before or the ones it was given — never
neither (the passphrase change is in test_passphrase.py). Each point is killed three times."""

from __future__ import annotations

import asyncio
import re
import subprocess
from pathlib import Path

import pytest
from campaign_support import FIELDKIT, environment, environment_of, record, run, verified
from hub_support import HUB_KEY, enrol_hub, hub_process
from sync_support import PASSPHRASE, network, new_laptop, serving

from fieldkit.errors import FieldkitError, WrongPassphrase
from fieldkit.hub.storage import SqliteStorage
from fieldkit.store.keystore import Keystore
from fieldkit.store.session import unlock
from fieldkit.sync import membership
from fieldkit.sync.forwarder import push

KILLED, TIMES = -9, 3
NEW_USER_PASSPHRASE = "a new nurse's passphrase"


def opens(home, name: str, passphrase: str) -> bool:
    try:
        Keystore(home.keystore).unlock(name, passphrase)
    except (WrongPassphrase, FieldkitError):  # no such slot, or the wrong key for it
        return False
    return True


@pytest.mark.parametrize("point", ["keystore.add_user.before_commit", "keystore.add_user.after_commit"])
def test_adding_a_user_killed_anywhere_leaves_her_whole_or_absent(tmp_path, tmp_path_factory, point):
    [laptop] = network(tmp_path, 1)
    laptop.store.close()
    supervisor = environment_of(laptop)
    for number in range(TIMES):
        name = f"nurse{number}"
        adding = [*FIELDKIT, "user", "add", name, "--role", "clinician"]
        killed = run(adding, supervisor | {"FIELDKIT_CRASH_AT": point, "FIELDKIT_NEW_PASSPHRASE": NEW_USER_PASSPHRASE})
        assert killed.returncode == KILLED, killed.stderr
        assert opens(laptop.home, laptop.user.name, PASSPHRASE)  # the supervisor's key is untouched
        added = opens(laptop.home, name, NEW_USER_PASSPHRASE)
        assert added == point.endswith("after_commit")
        if not added:  # her grant is journalled, her slot is not: adding her again works
            again = run(adding, supervisor | {"FIELDKIT_NEW_PASSPHRASE": NEW_USER_PASSPHRASE})
            assert again.returncode == 0, again.stderr
        store, _ = unlock(laptop.home, name, NEW_USER_PASSPHRASE)
        with store:
            verified(store)
    record(tmp_path_factory, "T14 kill -9 while adding a user", kills=TIMES, lost=0)


def offer(supervisor, point: str | None) -> tuple[subprocess.Popen, str, str]:
    """`fieldkit network enrol` on the supervisor's laptop: the process, its code and its port."""
    process = subprocess.Popen([*FIELDKIT, "network", "enrol", "--port", "0", "--interface", "127.0.0.1"],
                               env=environment_of(supervisor, point), stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True)
    shown = process.stdout.readline() + process.stdout.readline()
    code, port = re.search(r"code (\d{3}-\d{3})", shown), re.search(r"127\.0\.0\.1:(\d+)", shown)
    assert code and port, shown
    return process, code.group(1), port.group(1)


def enrolment(supervisor, laptop, point: str | None, armed: str) -> tuple[int | None, int | None]:
    """One enrolment with the supervisor's or the new laptop's process armed: their exit codes."""
    offering, code, port = offer(supervisor, point if armed == "supervisor" else None)
    joining = run([*FIELDKIT, "network", "join", code, f"127.0.0.1:{port}"],
                  environment_of(laptop, point if armed == "laptop" else None))
    if joining.returncode == KILLED:  # its laptop died: nobody else will come
        offering.kill()
    return offering.wait(30), joining.returncode


@pytest.mark.parametrize(("point", "armed"), [("enrol.issue.before_send", "supervisor"),
                                              ("enrol.join.before_store", "laptop"),
                                              ("enrol.join.after_store", "laptop")])
async def test_an_enrolment_killed_anywhere_leaves_a_laptop_that_opens_and_can_join(tmp_path, tmp_path_factory,
                                                                                    point, armed):
    [supervisor] = await asyncio.to_thread(network, tmp_path, 1)
    for number in range(TIMES):
        laptop = await asyncio.to_thread(new_laptop, tmp_path, f"new{number}")
        await asyncio.to_thread(laptop.store.close)
        offered, joined = await asyncio.to_thread(enrolment, supervisor, laptop, point, armed)
        assert KILLED in (offered, joined), (offered, joined)
        store, _ = await asyncio.to_thread(unlock, laptop.home, laptop.user.name, PASSPHRASE)
        with store:
            verified(store)
            kept = membership.member(store)
        assert kept == (point == "enrol.join.after_store")  # all of the membership or none of it
        if not kept:  # a new code, and it joins
            assert await asyncio.to_thread(enrolment, supervisor, laptop, None, "nobody") == (0, 0)
        # and, joined, it syncs with the supervisor over mutual TLS
        async with serving(supervisor) as server:
            syncing = await asyncio.to_thread(run, [*FIELDKIT, "sync", "now", f"127.0.0.1:{server.port}"],
                                              environment_of(laptop))
            assert syncing.returncode == 0, syncing.stderr
    supervisor.store.close()
    record(tmp_path_factory, f"T14 kill -9 in an enrolment ({armed})", kills=TIMES, lost=0)


def hub_opens(path: Path, key: bytes) -> int | None:
    """How many entries the hub's file holds when opened with `key`; None if the key does not open it."""
    if not path.exists():  # opening would make an empty store
        return None
    try:
        storage = SqliteStorage(path, key)
    except FieldkitError:
        return None
    try:
        return storage.count()
    finally:
        storage.close()


@pytest.mark.parametrize("point", ["hub.rekey.after_export", "hub.rekey.after_replace"])
async def test_a_hub_rekey_killed_anywhere_leaves_the_old_or_the_new_key_opening_everything(tmp_path,
                                                                                           tmp_path_factory, point):
    [laptop] = await asyncio.to_thread(network, tmp_path, 1)
    await asyncio.to_thread(laptop.clinic.register, {"given_name": "Rekey", "family_name": "Campaign", "sex": "male"})
    data, keys = tmp_path / "hub", tmp_path / "keys"
    enrol_hub(data, laptop)
    keys.mkdir()
    database = data / "hub.db"
    with hub_process(data, f"sqlite:///{database}") as (_, address):
        await push(laptop.store, laptop.member, address)
    current, stored = HUB_KEY, hub_opens(database, HUB_KEY)
    assert stored
    for number in range(TIMES):
        new = bytes([number + 1]) * 32
        (keys / f"{number}.key").write_text(new.hex())
        env = environment(tmp_path, "nobody", FIELDKIT_HUB_KEY=current.hex(), FIELDKIT_CRASH_AT=point)
        killed = await asyncio.to_thread(run, [*FIELDKIT, "hub", "key", "rotate", "--data", str(data),
                                               str(keys / f"{number}.key")], env)
        assert killed.returncode == KILLED, killed.stderr
        with_old, with_new = hub_opens(database, current), hub_opens(database, new)
        assert (with_old is None) != (with_new is None), (with_old, with_new)  # exactly one key opens it
        assert (with_new is not None) == point.endswith("after_replace")
        assert stored in (with_old, with_new)  # and it holds every entry
        current = new if with_new is not None else current
    laptop.store.close()
    record(tmp_path_factory, "T14 kill -9 in a hub rekey", kills=TIMES, lost=0)
