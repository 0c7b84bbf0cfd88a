"""The encrypted store: nothing readable on disk, keys wrapped per user, audit log that tells."""

from __future__ import annotations

import asyncio
import threading

import pytest
import sqlcipher3

from fieldkit.errors import FieldkitError, WrongPassphrase
from fieldkit.store.db import Change
from fieldkit.store.home import Home
from fieldkit.store.keystore import Keystore
from fieldkit.store.session import add_user, create_clinic, unlock
from fieldkit.sync.identity import new_device_key

MARKERS = ["Zqxvbnmeridian", "ظطغضذخثصقف", "Ưởngđẫmxyz"]


def new_clinic(tmp_path, passphrase="field kit 2026"):
    key, device = new_device_key()
    home = Home(tmp_path / "clinic")
    store, user = create_clinic(home, supervisor="amina", passphrase=passphrase, device_id=device, device_key=key)
    return home, store, user


def files_under(path):
    return [p for p in path.rglob("*") if p.is_file()]


def encodings(text):
    return [text.encode(enc) for enc in ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le")] + [text.lower().encode()]


def test_no_patient_text_anywhere_on_disk(tmp_path):
    home, store, user = new_clinic(tmp_path)
    for i, marker in enumerate(MARKERS):
        store.append([Change("patient", f"p{i}", "create", {"fields": {"given_name": marker, "phone": "0999111222"}})],
                     user=user.id)
    store.read(lambda conn: conn.execute("SELECT * FROM patients ORDER BY given_name DESC").fetchall())
    store.close()
    found = files_under(home.path)
    assert {p.name for p in found} >= {"clinic.db", "keystore.db"}
    for path in found:
        blob = path.read_bytes()
        for marker in MARKERS:
            for encoded in encodings(marker):
                assert encoded not in blob, f"{marker!r} readable in {path.name}"
        assert b"0999111222" not in blob
    # the control: the same check does see the marker through the key
    store, _ = unlock(home, "amina", "field kit 2026")
    assert store.read(lambda conn: conn.execute("SELECT count(*) FROM patients WHERE given_name = ?",
                                                (MARKERS[0],)).fetchone()[0]) == 1
    store.close()


def test_database_is_not_readable_without_the_key(tmp_path):
    home, store, _ = new_clinic(tmp_path)
    store.close()
    conn = sqlcipher3.connect(str(home.database))
    with pytest.raises(sqlcipher3.DatabaseError, match="file is not a database"):
        conn.execute("SELECT * FROM sqlite_master").fetchall()


def test_wrong_passphrase_fails_cleanly_and_changes_nothing(tmp_path):
    home, store, _ = new_clinic(tmp_path)
    store.close()
    # The keystore only counts the refusal, for the next sign-in to audit (campaign: T13).
    before = {p: p.read_bytes() for p in files_under(home.path) if p != home.keystore}
    slots = Keystore(home.keystore).users()
    with pytest.raises(WrongPassphrase, match="wrong passphrase for amina"):
        unlock(home, "amina", "field kit 2027")
    assert {p: p.read_bytes() for p in files_under(home.path) if p != home.keystore} == before
    assert Keystore(home.keystore).users() == slots and len(Keystore(home.keystore).refusals()) == 1


def test_pragmas_are_enforced(tmp_path):
    _home, store, _ = new_clinic(tmp_path)
    pragmas = store.read(lambda conn: [conn.execute(f"PRAGMA {p}").fetchone()[0]
                                       for p in ("journal_mode", "synchronous", "temp_store", "cipher_version")])
    store.close()
    assert pragmas[:3] == ["wal", 2, 2] and pragmas[3]


def test_passphrase_change_rewraps_without_reencrypting(tmp_path):
    home, store, _ = new_clinic(tmp_path)
    store.close()
    database = home.database.read_bytes()
    Keystore(home.keystore).change_passphrase("amina", "field kit 2026", "new secret phrase")
    assert home.database.read_bytes() == database
    with pytest.raises(WrongPassphrase):
        unlock(home, "amina", "field kit 2026")
    store, user = unlock(home, "amina", "new secret phrase")
    assert user.role == "supervisor"
    store.close()


def test_each_user_has_a_role_and_own_passphrase(tmp_path):
    home, store, _ = new_clinic(tmp_path)
    clerk = add_user(home, store, by="amina", by_passphrase="field kit 2026", name="bao",
                     role="clerk", passphrase="bao's own phrase")
    with pytest.raises(FieldkitError, match="may not manage users"):
        add_user(home, store, by="bao", by_passphrase="bao's own phrase", name="x", role="clerk",
                 passphrase="whatever phrase")
    with pytest.raises(FieldkitError, match="role must be one of"):
        add_user(home, store, by="amina", by_passphrase="field kit 2026", name="y", role="king",
                 passphrase="whatever phrase")
    store.close()
    store, user = unlock(home, "bao", "bao's own phrase")
    assert user == clerk and user.role == "clerk"
    users = store.read(lambda conn: conn.execute("SELECT name, role FROM users ORDER BY name").fetchall())
    assert users == [("amina", "supervisor"), ("bao", "clerk")]
    store.close()


def test_creating_over_an_existing_clinic_is_refused(tmp_path):
    _home, store, _ = new_clinic(tmp_path)
    store.close()
    with pytest.raises(FieldkitError, match="already a clinic"):
        new_clinic(tmp_path)


def test_short_passphrase_is_refused_and_leaves_no_clinic(tmp_path):
    with pytest.raises(FieldkitError, match="at least 8"):
        new_clinic(tmp_path, passphrase="short")
    assert not Home(tmp_path / "clinic").exists


def tamper(store, sql):
    """Bypass the append-only triggers, as an attacker holding the key could."""
    def job(conn):
        conn.execute("DROP TRIGGER audit_no_update")
        conn.execute("DROP TRIGGER audit_no_delete")
        conn.execute(sql)
    store.write(job)


def viewed(store, user, patient_id="p1"):
    store.write(lambda tx: tx.audit(user.id, "view patient", patient_id))


def test_audit_log_records_writes_and_views_and_verifies(tmp_path):
    _home, store, user = new_clinic(tmp_path)
    store.append([Change("patient", "p1", "create", {"fields": {"given_name": "Lan"}})], user=user.id)
    viewed(store, user)
    rows = store.read(lambda conn: conn.execute("SELECT user, action, entity_id FROM audit").fetchall())
    assert (user.id, "create patient", "p1") in rows and (user.id, "view patient", "p1") in rows
    assert store.verify_audit().ok
    with pytest.raises(sqlcipher3.DatabaseError, match="append-only"):
        store.write(lambda tx: tx.execute("UPDATE audit SET user = 'x'"))
    with pytest.raises(sqlcipher3.DatabaseError, match="append-only"):
        store.write(lambda tx: tx.execute("DELETE FROM audit"))
    store.close()


def test_audit_verify_detects_a_modified_row(tmp_path):
    _home, store, user = new_clinic(tmp_path)
    viewed(store, user)
    tamper(store, "UPDATE audit SET user = 'someone-else' WHERE seq = 1")
    report = store.verify_audit()
    assert not report.ok and "modified" in report.problem
    store.close()


def test_audit_verify_detects_truncation(tmp_path):
    _home, store, user = new_clinic(tmp_path)
    for _ in range(3):
        viewed(store, user)
    tamper(store, "DELETE FROM audit WHERE seq > 2")
    report = store.verify_audit()
    assert not report.ok and "truncated" in report.problem
    store.close()


def test_reads_run_on_readers_that_refuse_writes_and_writes_on_the_one_writer(tmp_path):
    _home, store, _ = new_clinic(tmp_path)
    reader = store.read(lambda conn: threading.current_thread())
    writer = store.write(lambda tx: threading.current_thread())
    assert reader.name.startswith("fieldkit-reader") and writer.name == "fieldkit-writer"
    assert store.write(lambda tx: threading.current_thread()) is writer
    with pytest.raises(sqlcipher3.OperationalError, match="readonly"):
        store.read(lambda conn: conn.execute("INSERT INTO meta VALUES ('x', 1)"))
    with pytest.raises(sqlcipher3.ProgrammingError):
        store.read(lambda conn: conn).execute("SELECT 1")  # refused outside its own thread
    store.close()


async def test_async_callers_await_the_writer(tmp_path):
    _home, store, user = await asyncio.to_thread(new_clinic, tmp_path)
    entries = await store.aappend([Change("patient", "p", "create", {"fields": {"given_name": "A"}})], user=user.id)
    assert entries[0].seq == 2  # after the supervisor's own user entry
    assert await store.aread(lambda conn: conn.execute("SELECT count(*) FROM patients").fetchone()[0]) == 1
    store.close()


def test_a_database_of_schema_3_moves_its_journal_to_a_rowid_table_and_keeps_every_entry(tmp_path):
    import os

    from fieldkit.store.connection import connect
    from fieldkit.store.db import Store
    from fieldkit.store.schema import MIGRATIONS

    key = os.urandom(32)
    made = Store(tmp_path / "new.db", key, device_id="a" * 32)
    made.append([Change("patient", f"p{i}", "create", {"fields": {"given_name": f"Lan {i}", "phone": "0999"}})
                 for i in range(50)], user="u")
    made.append([Change("patient", "p1", "update", {"fields": {"given_name": "Hoa"}, "base": {}})], user="u")
    rows = made.read(lambda conn: conn.execute("SELECT * FROM journal ORDER BY origin, seq").fetchall())
    state = made.state_hash()
    made.close()

    old = sqlcipher3.connect(str(tmp_path / "old.db"), isolation_level=None)
    old.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    for number, script in enumerate(MIGRATIONS[:3], start=1):
        old.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")
    old.execute("INSERT INTO meta VALUES ('device_id', ?)", ("a" * 32,))
    old.executemany("INSERT INTO journal VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    assert "WITHOUT ROWID" in old.execute("SELECT sql FROM sqlite_master WHERE name = 'journal'").fetchone()[0]
    old.close()

    migrated = Store(tmp_path / "old.db", key)
    assert migrated.read(lambda conn: conn.execute("SELECT * FROM journal ORDER BY origin, seq").fetchall()) == rows
    assert migrated.rebuild().entries == len(rows)
    assert migrated.state_hash() == state
    with pytest.raises(sqlcipher3.IntegrityError):  # (origin, seq) is still one entry
        migrated.write(lambda tx: tx.execute("INSERT INTO journal VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows[0]))
    migrated.close()
    conn = connect(tmp_path / "old.db", key)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert "WITHOUT ROWID" not in conn.execute("SELECT sql FROM sqlite_master WHERE name = 'journal'").fetchone()[0]
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'journal_entity'").fetchone()[0] == 1
    conn.close()
