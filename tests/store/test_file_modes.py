"""The clinic's files are its owner's alone, whatever the umask: the database, its WAL and
shared-memory files, the keystore (with its rollback journal), and so the drafts kept inside."""

from __future__ import annotations

import os
import stat

import pytest

from fieldkit.records.services import Clinic
from fieldkit.store.home import Home
from fieldkit.store.keystore import Keystore
from fieldkit.store.session import create_clinic
from fieldkit.sync.identity import new_device_key

FAST_KDF = {"memory_kib": 8 * 1024, "iterations": 1, "lanes": 1}


@pytest.fixture
def loose_umask():
    before = os.umask(0o022)  # the usual desktop umask: files 0644 unless made otherwise
    yield
    os.umask(before)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_every_file_of_a_new_clinic_is_the_owners_alone(tmp_path, loose_umask):
    home = Home(tmp_path / "clinic")
    key, device = new_device_key()
    store, user = create_clinic(home, supervisor="amina", passphrase="field kit 2026", device_id=device,
                                device_key=key, kdf=FAST_KDF)
    with store:
        Clinic(store, user).register({"given_name": "Fatima", "family_name": "Hassan", "sex": "female"})
        store.write(lambda tx: tx.execute("INSERT OR REPLACE INTO drafts VALUES ('k', '{}', 'now')"))
        store.open_readers()
        Keystore(home.keystore).set_setting("language", "ar")
        files = sorted(home.path.iterdir())
        names = {path.name for path in files}
        assert {"clinic.db", "clinic.db-wal", "clinic.db-shm", "keystore.db"} <= names
        assert {path.name: mode(path) for path in files} == dict.fromkeys(names, 0o600)
    assert mode(home.path) == 0o700
