"""T17: what a revoked laptop or user writes after the revocation never reaches anyone's tables,
whoever relays it; what they wrote before it still reaches the hub (store/holdback.py)."""

from __future__ import annotations

import asyncio

import pytest
from hub_support import database, enrol_hub, running_hub
from sync_support import PASSPHRASE, journal, sync

from fieldkit.errors import FieldkitError
from fieldkit.records.search import search
from fieldkit.store.session import revoke_user, unlock
from fieldkit.sync import membership
from fieldkit.sync.forwarder import push


def register(laptop, given: str) -> str:
    return laptop.clinic.register({"given_name": given, "family_name": "Trần", "sex": "female"}).patient_id


def found(laptop, name: str) -> bool:
    return bool(laptop.store.read(lambda conn: search(conn, name)))


def held(laptop) -> set[tuple[str, int]]:
    return {(e.origin, e.seq) for e in laptop.store.held()}


async def test_a_revoked_laptops_later_entries_are_held_by_every_relay_and_the_hub(laptops, tmp_path):
    base, stolen, clinic, relay = laptops(4)
    register(stolen, "Before")  # seen by base before the revocation: it stands
    await sync(stolen, base)
    entry = await asyncio.to_thread(membership.revoke, base.store, base.member, stolen.device, user=base.user.id,
                                    reason="stolen")
    assert entry.payload["cutoff"] == stolen.store.version_vector()[stolen.device]
    await sync(clinic, base)  # the clinic hears of it; the relay has not

    register(stolen, "After")  # the thief registers a patient
    after = {(stolen.device, seq) for seq in range(entry.payload["cutoff"] + 1,
                                                   stolen.store.version_vector()[stolen.device] + 1)}
    await sync(relay, stolen)  # unaware, the relay takes it and shows it
    assert found(relay, "After") and held(relay) == set()

    await sync(relay, clinic)  # the relay hands it on, and learns of the revocation in the same session
    for laptop in (clinic, relay):
        assert held(laptop) == after, laptop.name
        assert not found(laptop, "After"), f"{laptop.name} folded what the thief wrote"
        assert found(laptop, "Before"), f"{laptop.name} lost what was written before the revocation"
    assert journal(relay) == journal(clinic)  # kept and relayed, not dropped
    assert clinic.store.state_hash() == relay.store.state_hash()

    enrol_hub(tmp_path / "hub", base)
    with database("sqlite", tmp_path / "hub") as url:
        async with running_hub(tmp_path / "hub", url) as hub:
            await push(relay.store, relay.member, hub.url)
            counts = await asyncio.to_thread(hub.storage.held_back)
            assert counts == {stolen.device: len(after)}  # stored, and counted apart
            devices = {d["device"]: d for d in await asyncio.to_thread(hub.storage.devices)}
            assert devices[relay.device]["held_back"] == 0
            await push(base.store, base.member, hub.url)  # the supervisor's laptop pulls it: held there too
    assert held(base) == after and not found(base, "After")

    # The supervisor checks with the clinic and releases them; the release spreads like any entry.
    await asyncio.to_thread(membership.release, base.store, base.member, stolen.device, max(seq for _, seq in after),
                            user=base.user.id, reason="registered on the morning it went missing")
    await sync(clinic, base)
    assert held(clinic) == set() and found(clinic, "After")


async def test_release_and_revocation_need_the_network_key_and_a_revoked_laptop(laptops):
    base, other, clinic = laptops(3)
    with pytest.raises(FieldkitError, match="not revoked"):
        membership.release(base.store, base.member, clinic.device, 5, user=base.user.id)
    await sync(other, base)
    with pytest.raises(FieldkitError, match="network key"):
        membership.revoke(other.store, other.member, clinic.device, user=other.user.id)
    membership.revoke(base.store, base.member, clinic.device, user=base.user.id)
    with pytest.raises(FieldkitError, match="already folded"):
        membership.release(base.store, base.member, clinic.device, 0, user=base.user.id)


async def test_a_forged_release_is_refused_by_the_receiver(laptops):
    """A release moves what every laptop folds: only the network key may sign one."""
    from fieldkit.store.db import Change

    base, clinic, lost = laptops(3)
    membership.revoke(base.store, base.member, lost.device, user=base.user.id)
    await sync(clinic, base)
    clinic.store.append([Change("device", lost.device, "release", {
        "network": base.member.network.id, "cutoff": 10**6, "signature": "00" * 64})], user=clinic.user.id)
    with pytest.raises(FieldkitError, match="not signed by the network key"):
        await sync(clinic, base)
    assert base.store.cutoffs().devices[lost.device] == 0


async def test_a_revoked_users_later_entries_are_held_and_she_cannot_sign_in(laptops):
    base, clinic = laptops(2)
    nurse = clinic.user  # the clinic laptop's own supervisor, in these tests
    register(clinic, "Before")
    await sync(clinic, base)
    await asyncio.to_thread(revoke_user, base.home, base.store, by=base.user, user_id=nurse.id, reason="left")
    register(clinic, "Unseen")  # on a laptop that is not revoked, before it hears of it
    await sync(clinic, base)
    for laptop in (base, clinic):
        assert found(laptop, "Before") and not found(laptop, "Unseen"), laptop.name
        assert {e.author for e in laptop.store.held()} == {nurse.id}
    with pytest.raises(FieldkitError, match="revoked"):
        unlock(clinic.home, nurse.name, PASSPHRASE)
