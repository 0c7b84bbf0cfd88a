"""Backups on a stick (issue 19): made while the clinic writes, restored whole on a fresh data
directory, readable by nobody without a passphrase, refused when altered."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from fieldkit.errors import WrongPassphrase
from fieldkit.records.services import Clinic
from fieldkit.store import backup as backups
from fieldkit.store.home import Home
from fieldkit.store.session import add_user, create_clinic, unlock, unlock_keyed
from fieldkit.sync.identity import new_device_key

PASSPHRASE = "correct horse battery"
CLERK = "clerk's own phrase"
PATIENTS = [
    {"given_name": "Nguyễn Thị", "family_name": "Huỳnh Hương", "sex": "female", "identifiers": {"national": "079188001234"}},
    {"given_name": "فاطمة", "family_name": "الحسنية", "sex": "female", "phone": "+963944123456"},
    {"given_name": "Zahra", "family_name": "Karimzadeh", "sex": "female"},
]
SECRETS = ["Huỳnh Hương", "الحسنية", "Karimzadeh", "079188001234", "+963944123456", "Leila Haddad"]


@pytest.fixture
def clinic(tmp_path):
    home = Home(tmp_path / "laptop")
    key, device = new_device_key()
    store, user = create_clinic(home, supervisor="Leila Haddad", passphrase=PASSPHRASE, device_id=device,
                                device_key=key)
    for patient in PATIENTS:
        Clinic(store, user).register(patient)
    store.close()
    return home


@pytest.fixture
def stick(tmp_path):
    path = tmp_path / "stick"
    path.mkdir()
    return path


def make(home: Home, stick: Path, name: str = "Leila Haddad", passphrase: str = PASSPHRASE) -> backups.Made:
    store, user, key = unlock_keyed(home, name, passphrase)
    with store:
        return backups.backup(home, store, key, user, stick)


def state(home: Home, name: str = "Leila Haddad", passphrase: str = PASSPHRASE) -> tuple[str, set]:
    store, _ = unlock(home, name, passphrase)
    with store:
        return store.state_hash(), {entry.row() for entry in store.entries_after({}, 10**9)}


def test_a_restored_clinic_is_the_backed_up_one(clinic, stick, tmp_path):
    before = state(clinic)
    made = make(clinic, stick)
    assert made.folder.parent == stick and made.entries == len(before[1])
    assert sorted(path.name for path in made.folder.iterdir()) == ["clinic.db", "keystore.sealed", "manifest.json"]
    home = Home(tmp_path / "new laptop")
    restored = backups.restore(made.folder, home, PASSPHRASE)
    restored.store.close()
    assert restored.user.name == "Leila Haddad" and restored.manifest["state"] == before[0]
    assert state(home) == before  # every entry, and the same tables
    assert home.path.stat().st_mode & 0o777 == 0o700
    assert {path.stat().st_mode & 0o777 for path in (home.keystore, home.database)} == {0o600}


def test_nothing_in_a_backup_is_readable_without_a_passphrase(clinic, stick):
    made = make(clinic, stick)
    for path in made.folder.iterdir():
        data = path.read_bytes()
        for secret in SECRETS:
            for encoding in ("utf-8", "utf-16-le"):
                assert secret.encode(encoding) not in data, f"{secret!r} readable in {path.name}"
    # and the manifest says what a person needs to pick a backup, nothing about anyone
    manifest = json.loads((made.folder / "manifest.json").read_text())
    assert set(manifest) == {"format", "fieldkit", "schema", "created", "database_id", "device", "entries", "state",
                             "slots", "files", "seal"}


def test_the_backup_is_made_while_the_clinic_goes_on_writing(clinic, stick, tmp_path):
    store, user = unlock(clinic, "Leila Haddad", PASSPHRASE)
    for n in range(300):  # enough pages that the copy takes a while
        Clinic(store, user).register({"given_name": f"Minh {n}", "family_name": "Trần", "sex": "male"})
    written, stop = [], threading.Event()

    def write() -> None:
        while not stop.is_set():
            written.append(Clinic(store, user).register({"given_name": "Lan", "family_name": "Phạm", "sex": "female"}))

    writer = threading.Thread(target=write)
    store2, user2, key = unlock_keyed(clinic, "Leila Haddad", PASSPHRASE)
    with store2:
        writer.start()
        try:
            made = backups.backup(clinic, store2, key, user2, stick)
            during = len(written)
        finally:
            stop.set()
            writer.join()
    ours = {entry.row() for entry in store.entries_after({}, 10**9)}
    store.close()
    assert during > 0, "nothing was saved while the backup ran"
    home = Home(tmp_path / "restored")
    backups.restore(made.folder, home, PASSPHRASE).store.close()
    restored = state(home)
    assert restored[0] == json.loads((made.folder / "manifest.json").read_text())["state"]
    assert restored[1] <= ours  # a snapshot: every restored entry is one the clinic wrote …
    seqs = sorted(row[1] for row in restored[1])
    assert seqs == list(range(1, len(seqs) + 1))  # … and with no gap: a prefix of its chain


def test_a_supervisor_can_restore_what_a_clerk_backed_up(clinic, stick, tmp_path):
    store, _ = unlock(clinic, "Leila Haddad", PASSPHRASE)
    with store:
        add_user(clinic, store, by="Leila Haddad", by_passphrase=PASSPHRASE, name="Hoa", role="clerk", passphrase=CLERK)
        add_user(clinic, store, by="Leila Haddad", by_passphrase=PASSPHRASE, name="Minh", role="clerk",
                 passphrase="minh's own phrase")
    made = make(clinic, stick, "Hoa", CLERK)
    with pytest.raises(WrongPassphrase):
        backups.restore(made.folder, Home(tmp_path / "a"), "minh's own phrase")  # another clerk: no slot
    assert not (tmp_path / "a" / "clinic.db").exists()
    for n, passphrase in enumerate((CLERK, PASSPHRASE)):
        restored = backups.restore(made.folder, Home(tmp_path / f"b{n}"), passphrase)
        restored.store.close()
    assert restored.user.name == "Leila Haddad"


@pytest.mark.parametrize("alter", ["database", "keystore", "manifest", "slot"])
def test_an_altered_backup_is_refused_and_nothing_is_written(clinic, stick, tmp_path, alter):
    made = make(clinic, stick)
    manifest_path = made.folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    if alter in ("database", "keystore"):
        path = made.folder / ("clinic.db" if alter == "database" else "keystore.sealed")
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 1
        path.write_bytes(bytes(data))
    elif alter == "manifest":
        manifest["entries"] += 1000  # a claim the seal does not cover
        manifest_path.write_text(json.dumps(manifest))
    else:  # a slot from another clinic cannot open this one
        other = Home(tmp_path / "other")
        key, device = new_device_key()
        create_clinic(other, supervisor="x", passphrase="other passphrase", device_id=device,
                      device_key=key)[0].close()
        manifest["slots"] = json.loads((make(other, stick, "x", "other passphrase").folder
                                        / "manifest.json").read_text())["slots"]
        manifest_path.write_text(json.dumps(manifest))
    home = Home(tmp_path / "restored")
    with pytest.raises((backups.BackupRefused, WrongPassphrase)) as refused:
        backups.restore(made.folder, home, "other passphrase" if alter == "slot" else PASSPHRASE)
    assert "\n" not in str(refused.value)
    assert not home.database.exists() and not home.keystore.exists()


def test_restore_never_overwrites_a_clinic(clinic, stick):
    made = make(clinic, stick)
    before = clinic.database.read_bytes()
    with pytest.raises(backups.BackupRefused, match="already a clinic"):
        backups.restore(made.folder, clinic, PASSPHRASE)
    assert clinic.database.read_bytes() == before


def test_a_backup_goes_to_a_stick_not_beside_the_database(clinic, tmp_path):
    with pytest.raises(backups.BackupRefused, match="not into the clinic's own folder"):
        make(clinic, clinic.path)
    with pytest.raises(backups.BackupRefused, match="is the stick mounted"):
        make(clinic, tmp_path / "no such stick")


def test_a_backup_cut_short_leaves_nothing_that_looks_whole(clinic, stick, monkeypatch):
    def pulled_out(*args):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(backups, "_describe", pulled_out)
    with pytest.raises(OSError):
        make(clinic, stick)
    assert list(stick.iterdir()) == []
    with pytest.raises(backups.BackupRefused, match="not a fieldkit backup"):
        backups.read_manifest(stick)
