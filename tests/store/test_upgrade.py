"""An upgrade keeps the clinic: the previous release's database (tests/fixtures/release-0.1.0, a
demo clinic that release made, described by that release in expected.json with
scripts/release-fixture) opens in this one, is migrated, and keeps every entry and its state hash."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fieldkit.records.services import Clinic
from fieldkit.store.fold import canonical
from fieldkit.store.home import Home
from fieldkit.store.maintenance import check
from fieldkit.store.schema import MIGRATIONS
from fieldkit.store.session import unlock

RELEASE = Path(__file__).parent.parent / "fixtures" / "release-0.1.0"
EXPECTED = json.loads((RELEASE / "expected.json").read_text())
PASSPHRASE = "demo-clinic-2026"


@pytest.fixture
def old_clinic(tmp_path) -> Home:
    home = Home(tmp_path / "clinic")
    home.make()
    for name in ("clinic.db", "keystore.db"):
        shutil.copyfile(RELEASE / name, home.path / name)
        (home.path / name).chmod(0o600)  # git keeps no modes; the release made them 0600
    return home


def release_state_hash(conn, folded: dict[str, str]) -> str:
    """The state hash as the previous release defined it: a header for each of its folded tables,
    empty or not, then the rows in key order."""
    digest = hashlib.sha256()
    for table, key in folded.items():
        digest.update(f"\n#{table}\n".encode())
        for row in conn.execute(f"SELECT * FROM {table} ORDER BY {key}"):
            digest.update(canonical(list(row)).encode())
            digest.update(b"\n")
    return digest.hexdigest()


def test_the_previous_releases_database_opens_migrated_with_every_entry_and_its_state(old_clinic):
    assert EXPECTED["schema"] < len(MIGRATIONS), "the fixture is not from an earlier schema"
    store, user = unlock(old_clinic, "demo", PASSPHRASE)
    with store:
        schema = store.read(lambda conn: conn.execute("PRAGMA user_version").fetchone()[0])
        rows = store.read(lambda conn: conn.execute("SELECT origin, seq, hash FROM journal ORDER BY origin, seq")
                          .fetchall())
        assert schema == len(MIGRATIONS)
        assert len(rows) == EXPECTED["entries"]
        assert hashlib.sha256(json.dumps([list(row) for row in rows]).encode()).hexdigest() == EXPECTED["journal"]
        assert store.read(lambda conn: release_state_hash(conn, EXPECTED["folded"])) == EXPECTED["state_hash"]
        report = check(store)
        assert report["ok"], report
        before = store.state_hash()
        assert store.rebuild().same  # the new release's fold of the old entries gives the same tables
        assert store.state_hash() == before
        Clinic(store, user).register({"given_name": "Sau nâng cấp", "family_name": "Lê", "sex": "female"})
        assert check(store)["ok"]  # and the upgraded clinic goes on saving


def test_the_new_fieldkit_command_checks_the_old_database(old_clinic):
    environment = {**os.environ, "FIELDKIT_HOME": str(old_clinic.path), "FIELDKIT_PASSPHRASE": PASSPHRASE}
    result = subprocess.run([sys.executable, "-m", "fieldkit", "db", "check", "--json"], capture_output=True,
                            text=True, env=environment, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] and report["journal_entries"] == EXPECTED["entries"]
