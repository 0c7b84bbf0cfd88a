"""What a stolen hub disk reveals (issue 15): the SQLite store is SQLCipher, keyed from outside the
data directory; a hub without a key does not start; the key rotates; PostgreSQL's TLS is libpq's
and never falls back to plaintext when the URL asks for it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest
from hub_support import HUB_KEY, POSTGRES, enrol_hub, hub_process, open_storage
from sync_support import network

from fieldkit.errors import FieldkitError
from fieldkit.hub.settings import HubSettings
from fieldkit.hub.storage import HubStorage
from fieldkit.sync.forwarder import push

MARKER = "Zubaydah-PHI-7f3a"  # a name that appears nowhere else: any hit on disk is a leak


def hub(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FIELDKIT_HUB_")}
    return subprocess.run([sys.executable, "-m", "fieldkit", "hub", *args], capture_output=True, text=True,
                          env={**environment, **(env or {})}, timeout=60)


def files_holding(directory, text: str) -> list[str]:
    return [path.name for path in directory.rglob("*") if path.is_file() and text.encode() in path.read_bytes()]


async def test_a_stolen_sqlite_hub_disk_shows_no_patient_and_the_key_rotates(tmp_path):
    [laptop] = await asyncio.to_thread(network, tmp_path, 1)
    await asyncio.to_thread(laptop.clinic.register, {"given_name": MARKER, "family_name": "Haddad", "sex": "female"})
    data = tmp_path / "hub"
    enrol_hub(data, laptop)
    url = f"sqlite:///{data / 'hub.db'}"
    with hub_process(data, url) as (process, address):
        await push(laptop.store, laptop.member, address)
        process.kill()  # taken as it ran: its WAL is on the disk too
    laptop.store.close()
    assert {"hub.db", "hub.db-wal"} <= {path.name for path in data.iterdir()}
    assert files_holding(data, MARKER) == []
    assert files_holding(data, "Haddad") == []
    storage = open_storage(url)  # the control: with the key, the name is there
    assert storage._conn.execute("SELECT count(*) FROM hub_journal WHERE instr(data, ?)", (MARKER,)).fetchone()[0] == 1
    stored = storage.count()
    storage.close()

    keys = tmp_path / "keys"
    keys.mkdir()
    made = hub("key", "new", str(keys / "next.key"))
    assert made.returncode == 0, made.stderr
    assert oct((keys / "next.key").stat().st_mode & 0o777) == "0o600"
    assert hub("key", "new", str(keys / "next.key")).returncode == 1  # never overwritten
    rotated = hub("key", "rotate", "--data", str(data), str(keys / "next.key"), env={"FIELDKIT_HUB_KEY": HUB_KEY.hex()})
    assert rotated.returncode == 0, rotated.stderr
    with pytest.raises(FieldkitError, match="wrong key"):
        open_storage(url)
    after = HubStorage.open(url, bytes.fromhex((keys / "next.key").read_text()))
    assert after.count() == stored
    after.close()
    assert files_holding(data, MARKER) == []


def test_a_sqlite_hub_without_a_key_does_not_start(tmp_path):
    assert hub("init", "--data", str(tmp_path / "hub")).returncode == 0
    served = hub("serve", "--data", str(tmp_path / "hub"), "--port", "0")
    assert served.returncode == 1
    assert "needs a key" in served.stderr and len(served.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "hub" / "hub.db").exists()


def test_the_key_is_never_kept_in_the_data_directory(tmp_path):
    data = tmp_path / "hub"
    data.mkdir()
    (data / "hub.key").write_text(HUB_KEY.hex())
    with pytest.raises(FieldkitError, match="must not be kept in the data directory"):
        HubSettings.load(data, environ={"FIELDKIT_HUB_KEY_FILE": str(data / "hub.key")}).database_key()
    (data / "hub.toml").write_text(f'key = "{HUB_KEY.hex()}"\n')
    with pytest.raises(FieldkitError, match="must not be kept in its data directory"):
        HubSettings.load(data, environ={})
    (data / "hub.toml").unlink()
    with pytest.raises(FieldkitError, match="64 hexadecimal digits"):
        HubSettings.load(data, environ={"FIELDKIT_HUB_KEY": "not a key"}).database_key()
    outside = tmp_path / "hub.key"
    outside.write_text(HUB_KEY.hex() + "\n")
    assert HubSettings.load(data, environ={"FIELDKIT_HUB_KEY_FILE": str(outside)}).database_key() == HUB_KEY
    assert HubSettings.load(data, environ={}, database=POSTGRES).database_key() is None


def test_postgresql_over_tls_when_the_url_asks_never_falls_back_to_plaintext():
    """This machine's PostgreSQL has no TLS: a URL that requires it is refused in one line."""
    with pytest.raises(FieldkitError, match="SSL was required"):
        HubStorage.open(POSTGRES + "?sslmode=require")
