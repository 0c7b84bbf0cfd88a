"""A laptop restored from a backup takes a new identity (sync/reidentify.py): it never sends as the
laptop the backup came from, so a revoked original stays revoked, and nothing either wrote is lost."""

from __future__ import annotations

import pytest
from sync_support import PASSPHRASE, Laptop, journal, sync

from fieldkit.errors import FieldkitError
from fieldkit.records.search import search
from fieldkit.store import backup as backups
from fieldkit.store.home import Home
from fieldkit.store.session import add_user, unlock, unlock_keyed
from fieldkit.sync import membership
from fieldkit.sync.identity import public_key
from fieldkit.sync.reidentify import reidentify


def register(laptop: Laptop, given: str) -> None:
    laptop.clinic.register({"given_name": given, "family_name": "Trần", "sex": "female"})


def found(laptop: Laptop, name: str) -> bool:
    return bool(laptop.store.read(lambda conn: search(conn, name)))


def back_up(laptop: Laptop, stick, name: str | None = None, passphrase: str = PASSPHRASE) -> backups.Made:
    stick.mkdir(exist_ok=True)
    store, user, key = unlock_keyed(laptop.home, name or laptop.user.name, passphrase)
    with store:
        return backups.backup(laptop.home, store, key, user, stick)


def restore(made: backups.Made, root, passphrase: str = PASSPHRASE) -> tuple[Laptop, str, bool]:
    home = Home(root)
    restored = backups.restore(made.folder, home, passphrase)
    with restored.store as store:
        changed = reidentify(store, restored.user)
    store, user = unlock(home, restored.user.name, passphrase)
    member = membership.load(store) if membership.member(store) else None
    return Laptop("restored", home, store, user, member), changed.old, changed.enrolled


async def test_a_restored_laptop_never_writes_as_the_revoked_original(laptops, tmp_path):
    base, lost = laptops(2)
    register(lost, "Synced")
    await sync(lost, base)
    register(lost, "Unsynced")  # on the lost laptop and in its backup, never synced
    made = back_up(lost, tmp_path / "stick")
    original = lost.device
    cutoff = membership.revoke(base.store, base.member, original, user=base.user.id, reason="lost").payload["cutoff"]

    spare, old, enrolled = restore(made, tmp_path / "spare")
    try:
        assert old == original and spare.device != original and not enrolled
        assert membership.device_key(spare.store) != membership.device_key(lost.store)
        assert found(spare, "Unsynced") and found(spare, "Synced")  # the clinic is back
        with pytest.raises(FieldkitError, match="in no network"):
            membership.load(spare.store)  # it cannot sync until a supervisor enrols it

        network = base.member.network
        spare.member = membership.join(spare.store, network, membership.certs.enrol(
            base.member.network_key, network, public_key(membership.device_key(spare.store))))
        register(spare, "Restored")
        await sync(spare, base)

        assert found(base, "Restored")  # the new identity is accepted …
        ours = journal(lost)
        assert {row for row in journal(base) if row[0] == original} <= ours  # … and never wrote as the old one
        held = {(entry.origin, entry.seq) for entry in base.store.held()}
        assert held == {(original, seq) for seq in range(cutoff + 1, lost.store.version_vector()[original] + 1)}
        assert not found(base, "Unsynced")  # written after the cut-off: held for a supervisor, not lost
        assert found(base, "Synced")
    finally:
        spare.store.close()


async def test_a_restored_laptop_relays_the_originals_history_and_forks_nothing(laptops, tmp_path):
    base, lost = laptops(2)
    register(lost, "Before backup")
    made = back_up(lost, tmp_path / "stick")
    register(lost, "Still in use")  # the original was not lost after all: it goes on writing

    spare, _old, _enrolled = restore(made, tmp_path / "spare")
    try:
        network = base.member.network
        spare.member = membership.join(spare.store, network, membership.certs.enrol(
            base.member.network_key, network, public_key(membership.device_key(spare.store))))
        register(spare, "On the spare")
        await sync(spare, base)  # the spare relays the original's entries, signed at restore
        assert found(base, "Before backup") and found(base, "On the spare")
        await sync(lost, base)  # no fork: the two laptops never shared a sequence number
        assert found(base, "Still in use")
        assert len({row[:2] for row in journal(base)}) == len(journal(base))
    finally:
        spare.store.close()


def test_a_supervisor_restoring_the_network_keys_laptop_enrols_it_again(laptops, tmp_path):
    [base] = laptops(1)
    made = back_up(base, tmp_path / "stick")
    founder, old, enrolled = restore(made, tmp_path / "founder")
    try:
        assert enrolled and founder.member is not None and founder.device != old
        assert membership.certs.verify(founder.member.certificate, founder.member.network) == founder.device
        assert founder.member.network_key == base.member.network_key  # it can still enrol and revoke
    finally:
        founder.store.close()


def test_a_clerk_restoring_it_leaves_enrolment_to_a_supervisor(laptops, tmp_path):
    base, _other = laptops(2)
    add_user(base.home, base.store, by=base.user.name, by_passphrase=PASSPHRASE, name="Hoa", role="clerk",
             passphrase="hoa's own phrase")
    made = back_up(base, tmp_path / "stick", "Hoa", "hoa's own phrase")
    restored, _old, enrolled = restore(made, tmp_path / "restored", "hoa's own phrase")
    try:
        assert not enrolled and restored.member is None
        assert restored.store.get_meta("network_key") is None  # the network key is not a clerk's to carry on
    finally:
        restored.store.close()
