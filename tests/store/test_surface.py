"""The store's surface: readers beside one writer, transactions written once, notices after commit,
and several connections (so several processes) on one file taking turns without losing anything."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
import threading
import time

import pytest

from fieldkit.errors import FieldkitError
from fieldkit.records.models import Patient
from fieldkit.store.connection import connect
from fieldkit.store.db import Change, Committed, Store, Transaction
from fieldkit.store.entities import MUTABLE, PATIENT
from fieldkit.store.home import Home
from fieldkit.store.keystore import Keystore
from fieldkit.store.maintenance import check
from fieldkit.store.schema import MIGRATIONS
from fieldkit.store.session import add_user, create_clinic
from fieldkit.sync.identity import new_device_key

PASSPHRASE = "correct horse battery"
CHEAP_KDF = {"memory_kib": 1024, "iterations": 1, "lanes": 1}


def patient(n: int) -> Change:
    return Change("patient", f"p{n}", "create", {"fields": {"given_name": f"Lan {n}", "sex": "female"}})


# -- two connections on one file: what two processes do ---------------------------------------------


def test_two_stores_on_one_file_take_turns_and_keep_one_chain(tmp_path):
    """The reproduction: a second opener (a CLI command beside the clinic screen) appends, then the
    first appends again. Before, the first reused its remembered sequence and audit numbers."""
    key = os.urandom(32)
    screen = Store(tmp_path / "clinic.db", key, device_id="a" * 32)
    command = Store(tmp_path / "clinic.db", key)
    try:
        screen.append([patient(1)], user="u")
        command.append([patient(2)], user="u")
        screen.write(lambda tx: tx.audit("u", "view patient", "p2"))
        screen.append([patient(3)], user="u")
        command.append([patient(4), patient(5)], user="u")
        assert screen.version_vector() == {"a" * 32: 5}
        report = check(command)
        assert report["ok"] and report["journal_entries"] == 5 and report["audit_rows"] == 6
        stamps = command.read(lambda conn: [row[0] for row in conn.execute("SELECT hlc FROM journal ORDER BY seq")])
        assert stamps == sorted(stamps) and len(set(stamps)) == 5  # one clock across both openers
    finally:
        screen.close()
        command.close()


def test_a_new_file_opened_by_several_at_once_is_migrated_once(tmp_path):
    key, errors, versions = os.urandom(32), [], []

    def open_it() -> None:
        try:
            conn = connect(tmp_path / "new.db", key)
            versions.append(conn.execute("PRAGMA user_version").fetchone()[0])
            conn.close()
        except Exception as exc:
            errors.append(exc)
    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and versions == [len(MIGRATIONS)] * 4


# -- reads and writes --------------------------------------------------------------------------------


def test_a_read_does_not_wait_for_a_long_write(store):
    store.append([patient(1)], user="u")
    started, release = threading.Event(), threading.Event()

    def long_write(tx: Transaction) -> None:
        tx.append([patient(2)], user="u")
        started.set()
        release.wait(10)
    writing = threading.Thread(target=store.write, args=(long_write,))
    writing.start()
    try:
        assert started.wait(10)
        begun = time.perf_counter()
        seen = store.read(lambda conn: [row[0] for row in conn.execute("SELECT id FROM patients")])
        assert time.perf_counter() - begun < 5
        assert seen == ["p1"]  # the snapshot before the write commits
    finally:
        release.set()
        writing.join()
    assert store.read(lambda conn: conn.execute("SELECT count(*) FROM patients").fetchone()[0]) == 2


def test_a_failed_write_keeps_nothing_and_tells_nobody(store):
    heard: list[Committed] = []
    store.subscribe(heard.append)

    def fails(tx: Transaction) -> None:
        tx.append([patient(1)], user="u")
        tx.execute("INSERT INTO drafts VALUES ('k', '{}', 'now')")
        raise FieldkitError("refused halfway")
    with pytest.raises(FieldkitError, match="halfway"):
        store.write(fails)
    assert store.version_vector() == {} and not heard
    assert store.read(lambda conn: conn.execute("SELECT count(*) FROM drafts").fetchone()[0]) == 0
    store.append([patient(1)], user="u")  # the chain starts at 1 still
    assert store.version_vector() == {"a" * 32: 1}


async def test_a_cancelled_read_that_has_not_started_never_runs(tmp_path):
    store = await asyncio.to_thread(Store, tmp_path / "clinic.db", os.urandom(32), device_id="a" * 32, readers=1)
    busy, release, ran = threading.Event(), threading.Event(), []
    try:
        blocker = asyncio.ensure_future(store.aread(lambda conn: (busy.set(), release.wait(10))))
        await asyncio.to_thread(busy.wait, 10)
        queued = asyncio.ensure_future(store.aread(lambda conn: ran.append("queued")))
        await asyncio.sleep(0.05)
        queued.cancel()
        await asyncio.sleep(0.05)  # the cancellation reaches the job's future through the loop
        release.set()
        await blocker
        with pytest.raises(asyncio.CancelledError):
            await queued
        await store.aread(lambda conn: None)  # everything queued before this has been taken
        assert ran == []
    finally:
        release.set()
        await asyncio.to_thread(store.close)


# -- notices after commit ------------------------------------------------------------------------------


def test_subscribers_hear_each_commit_with_what_it_changed(store):
    heard: list[Committed] = []
    unsubscribe = store.subscribe(heard.append)
    store.subscribe(lambda commit: 1 / 0)  # a broken subscriber does not fail the write
    store.append([patient(1), Change("user", "u2", "create", {"fields": {"name": "Hoa", "role": "clerk"}})], user="u")
    store.write(lambda tx: tx.execute("INSERT INTO drafts VALUES ('k', '{}', 'now')"))  # nothing journalled
    assert heard == [Committed(frozenset({"a" * 32}), frozenset({"patient", "user"}))]
    unsubscribe()
    store.append([patient(2)], user="u")
    assert len(heard) == 1


async def test_a_subscriber_on_the_loop_hears_it_there(store):
    loop, heard = asyncio.get_running_loop(), asyncio.Queue()
    store.subscribe(lambda commit: heard.put_nowait((threading.current_thread(), commit)), loop=loop)
    await store.aappend([patient(1)], user="u")
    thread, commit = await asyncio.wait_for(heard.get(), 5)
    assert thread is threading.current_thread() and commit.origins == {"a" * 32}


def test_another_process_commit_is_noticed(tmp_path):
    home = Home(tmp_path / "clinic")
    key, device = new_device_key()
    store, _user = create_clinic(home, supervisor="amina", passphrase=PASSPHRASE, device_id=device,
                                device_key=key, kdf=CHEAP_KDF)
    heard: list[Committed] = []
    store.subscribe(heard.append)
    try:
        time.sleep(1.2)  # the idle writer has looked once, so it knows where the file stood
        env = {**os.environ, "FIELDKIT_HOME": str(home.path), "FIELDKIT_PASSPHRASE": PASSPHRASE}
        added = subprocess.run([sys.executable, "-m", "fieldkit", "patient", "add", "--given", "Lan"], env=env,
                               capture_output=True, text=True, timeout=60)
        assert added.returncode == 0, added.stderr
        deadline = time.monotonic() + 10
        while not heard and time.monotonic() < deadline:
            time.sleep(0.05)
        assert heard and heard[0].external and heard[0].origins == {device} and heard[0].entities is None
    finally:
        store.close()


# -- a user lives in the keystore only with her grant in the journal ------------------------------------


def test_a_user_whose_grant_cannot_be_journalled_gets_no_key_slot(clinic, monkeypatch):
    home, store = clinic

    def refuse(self, changes, *, user):
        raise FieldkitError("the journal refused")
    monkeypatch.setattr(Transaction, "append", refuse)
    with pytest.raises(FieldkitError, match="journal refused"):
        add_user(home, store, by="amina", by_passphrase=PASSPHRASE, name="hoa", role="clerk",
                 passphrase="hoa's passphrase", kdf=CHEAP_KDF)
    assert [u.name for u in Keystore(home.keystore).users()] == ["amina"]


def test_a_user_refused_by_the_keystore_is_not_journalled(clinic):
    home, store = clinic
    before = store.version_vector()
    with pytest.raises(FieldkitError, match="already a user"):
        add_user(home, store, by="amina", by_passphrase=PASSPHRASE, name="amina", role="clerk",
                 passphrase="another passphrase", kdf=CHEAP_KDF)
    assert store.version_vector() == before


# -- what the schema promises ----------------------------------------------------------------------------


def test_the_first_migration_is_frozen():
    """A shipped migration never changes (a laptop that ran it would disagree with one that did
    not): a new field of an entity is a migration of its own."""
    assert hashlib.sha256(MIGRATIONS[0].encode()).hexdigest()[:16] == "a8063abc06b0959a"


def test_each_projection_table_has_its_entity_fields_and_the_model_agrees(store):
    for spec in MUTABLE.values():
        columns = store.read(lambda conn, table=spec.table: [row[1] for row in conn.execute(f"PRAGMA table_info({table})")])
        # A field added by a later migration is a column after `updated`: the fold names its columns.
        assert sorted(columns) == sorted(spec.columns + spec.derived), f"{spec.table} needs a migration for its new fields"
    assert tuple(Patient.model_fields) == PATIENT.fields
