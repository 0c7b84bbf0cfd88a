"""T11/T12: a cloned laptop, or one restored from an old copy, is noticed by the first peer or hub
that holds both of its histories; nothing is exchanged or deleted, and the refusal says why."""

from __future__ import annotations

import asyncio
import shutil

import pytest
from campaign_support import record
from hub_support import database, enrol_hub, running_hub
from sync_support import PASSPHRASE, Laptop, journal, network, sync

from fieldkit.errors import FieldkitError
from fieldkit.store.home import Home
from fieldkit.store.session import unlock
from fieldkit.sync.forwarder import HubRefused, push


def copy_of(laptop: Laptop, where) -> Laptop:
    """The laptop's data directory copied whole (its store closed for the copy, then reopened)."""
    laptop.store.close()
    shutil.copytree(laptop.home.path, where)
    laptop.store, laptop.user = unlock(laptop.home, laptop.user.name, PASSPHRASE)
    home = Home(where)
    store, user = unlock(home, laptop.user.name, PASSPHRASE)
    return Laptop(f"{laptop.name}-copy", home, store, user, laptop.member)


def register(laptop: Laptop, name: str) -> None:
    laptop.clinic.register({"given_name": name, "family_name": "Fork", "sex": "male"})


@pytest.mark.parametrize("case", ["T11 cloned laptop", "T12 restored from an old copy"])
async def test_two_laptops_writing_as_one_are_refused_by_a_peer_and_the_hub(tmp_path, tmp_path_factory, case):
    laptop, peer = await asyncio.to_thread(network, tmp_path, 2)
    if case.startswith("T11"):
        twin = await asyncio.to_thread(copy_of, laptop, tmp_path / "clone")
        await asyncio.to_thread(register, laptop, "Original")
    else:  # an old copy kept aside; the laptop goes on working and syncs, then the copy is restored
        twin = await asyncio.to_thread(copy_of, laptop, tmp_path / "backup")
        for name in ("Monday", "Tuesday"):
            await asyncio.to_thread(register, laptop, name)
    await asyncio.to_thread(register, twin, "Twin")  # the same sequence number, another entry
    await sync(laptop, peer)
    before = await asyncio.to_thread(journal, peer)
    with pytest.raises(FieldkitError, match="two laptops write as one"):
        await sync(twin, peer)
    assert await asyncio.to_thread(journal, peer) == before  # nothing exchanged, nothing deleted
    assert any("two laptops write as one" in p["error"] for p in peer.store.peers())  # kept for the supervisor

    enrol_hub(tmp_path / "hub", laptop)
    with database("sqlite", tmp_path / "hub") as url:
        async with running_hub(tmp_path / "hub", url) as hub:
            await push(laptop.store, laptop.member, hub.url)
            stored = await asyncio.to_thread(hub.storage.count)
            with pytest.raises(HubRefused, match="two laptops write as one"):
                await push(twin.store, twin.member, hub.url)
            assert await asyncio.to_thread(hub.storage.count) == stored
    for each in (laptop, twin, peer):
        each.store.close()
    record(tmp_path_factory, f"{case}: noticed by a peer and the hub", kills=0, lost=0, undetected=0)
