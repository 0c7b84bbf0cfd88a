"""Per-user key slots: the database key wrapped under a key derived from each user's passphrase.

The database key is 32 random bytes used as SQLCipher's raw key. Each user's slot holds it sealed
with AES-256-GCM under Argon2id(passphrase), so changing a passphrase re-wraps 32 bytes and
re-encrypts nothing. Slots live in a small plain SQLite file beside the database: it holds staff
names, roles, salts and sealed keys, never patient data.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fieldkit.crashpoints import crashpoint
from fieldkit.errors import FieldkitError, WrongPassphrase
from fieldkit.i18n import _
from fieldkit.permissions import ROLES, roles_for
from fieldkit.store.home import owner_only
from fieldkit.store.sql import immediate

# Argon2id cost, tuned so one guess costs about half a second on a 2-core field laptop (RFC 9106
# floor is 64 MiB, 3 passes); `bench/` reports the measured unlock time.
KDF = {"memory_kib": 256 * 1024, "iterations": 3, "lanes": 2}
MIN_PASSPHRASE = 8

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, role TEXT NOT NULL, language TEXT NOT NULL,
    memory_kib INTEGER NOT NULL, iterations INTEGER NOT NULL, lanes INTEGER NOT NULL,
    salt BLOB NOT NULL, nonce BLOB NOT NULL, sealed BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS refused (user_id TEXT NOT NULL, at TEXT NOT NULL);
"""


@dataclass(frozen=True)
class User:
    id: str
    name: str
    role: str
    language: str = "en"


def _derive(passphrase: str, salt: bytes, memory_kib: int, iterations: int, lanes: int) -> bytes:
    from cryptography.hazmat.primitives.kdf.argon2 import Argon2id  # here: listing users needs none of it

    # NFKC so the same passphrase typed through different keyboards or IMEs derives the same key.
    secret = unicodedata.normalize("NFKC", passphrase).encode()
    return Argon2id(salt=salt, length=32, iterations=iterations, lanes=lanes, memory_cost=memory_kib).derive(secret)


class Keystore:
    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        owner_only(self.path)
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        try:
            conn.executescript(_SCHEMA)
            yield conn
        finally:
            conn.close()

    @property
    def exists(self) -> bool:
        return self.path.exists()

    def database_id(self) -> str:
        with self._connect() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'database_id'").fetchone()
        if not row:
            raise FieldkitError(f"no clinic here: {self.path.parent} has no key slots (run `fieldkit init`)")
        return row[0]

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as conn, immediate(conn):
            yield conn

    def create(self) -> bytes:
        """Start a keystore for a new database; returns the fresh database key."""
        with self._connect() as conn:
            conn.execute("INSERT INTO meta VALUES ('database_id', ?)", (secrets.token_hex(16),))
        return os.urandom(32)

    def users(self) -> list[User]:
        with self._connect() as conn:
            rows = conn.execute("SELECT id, name, role, language FROM users ORDER BY name").fetchall()
        return [User(*row) for row in rows]

    def user(self, name: str) -> User:
        for user in self.users():
            if user.name == name or user.id == name:
                return user
        raise FieldkitError(f"no user named {name!r} on this laptop")

    def add_user(self, name: str, role: str, passphrase: str, key: bytes, *, language: str = "en",
                 kdf: dict[str, int] | None = None, journal: Callable[[User], object] = lambda user: None) -> User:
        """A new key slot. `journal(user)` runs before the slot is committed: the slot is kept
        only if it returns, so a user never exists here without her journalled grant."""
        if role not in ROLES:
            raise FieldkitError(_("role must be one of {roles}, not {role}").format(roles=", ".join(ROLES), role=role))
        if not name.strip():
            raise FieldkitError(_("a user needs a name"))
        user = User(secrets.token_hex(8), name, role, language)
        sealed = self._seal(user.id, passphrase, key, kdf or KDF)  # the slow part, before any lock
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise FieldkitError(_("there is already a user named {name}").format(name=name))
            conn.execute("INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (user.id, name, role, language, *sealed))
            journal(user)
            crashpoint("keystore.add_user.before_commit")
        crashpoint("keystore.add_user.after_commit")
        return user

    def set_language(self, name: str, language: str) -> User:
        """The language this user's screens are shown in; a preference, so no passphrase needed."""
        user = self.user(name)
        with self._connect() as conn:
            conn.execute("UPDATE users SET language = ? WHERE id = ?", (language, user.id))
        return User(user.id, user.name, user.role, language)

    def set_role(self, name: str, role: str, *, journal: Callable[[User], object] = lambda user: None) -> User:
        """Give a user another role; the last one who may manage users keeps that right, or nobody
        could add users. As with `add_user`, the change is kept only if `journal(changed user)` returns."""
        if role not in ROLES:
            raise FieldkitError(_("role must be one of {roles}, not {role}").format(roles=", ".join(ROLES), role=role))
        user = self.user(name)
        managers = roles_for("manage users")
        with self._transaction() as conn:  # the count and the change as one: two demotions cannot both pass
            others = sum(1 for other, other_role in conn.execute("SELECT id, role FROM users")
                         if other != user.id and other_role in managers)
            if user.role in managers and role not in managers and not others:
                raise FieldkitError(_("{name} is the last supervisor on this laptop: make another "
                                      "supervisor first").format(name=user.name))
            conn.execute("UPDATE users SET role = ? WHERE id = ?", (role, user.id))
            changed = User(user.id, user.name, role, user.language)
            journal(changed)
        return changed

    def remove_user(self, user_id: str, *, journal: Callable[[], object] = lambda: None) -> None:
        """Take away a user's key slot, if she has one here; kept only if `journal()` returns. The
        last one who may manage users stays, as in `set_role`."""
        managers = roles_for("manage users")
        with self._transaction() as conn:
            roles = dict(conn.execute("SELECT id, role FROM users").fetchall())
            if roles.get(user_id) in managers and sum(role in managers for role in roles.values()) == 1:
                raise FieldkitError(_("that is the last supervisor on this laptop: make another supervisor first"))
            conn.execute("DELETE FROM users WHERE id = ?", (user_id,))
            journal()

    def settings(self) -> dict[str, str]:
        """This laptop's settings (not a user's, not a patient's), such as the terminal's RTL mode."""
        with self._connect() as conn:
            rows = conn.execute("SELECT substr(key, 9), value FROM meta WHERE key LIKE 'setting:%'").fetchall()
        return dict(rows)

    def get_setting(self, key: str, default: str = "") -> str:
        return self.settings().get(key, default)

    def set_setting(self, key: str, value: str) -> None:
        with self._connect() as conn:
            conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (f"setting:{key}", value))

    def unlock(self, name: str, passphrase: str) -> tuple[User, bytes]:
        user = self.user(name)
        key = open_slot(self.slots([user.id])[0], passphrase, self.database_id())
        if key is None:
            # Kept here until the next sign-in copies it into the encrypted audit chain, which a
            # wrong passphrase cannot open (store/session.audit_refusals).
            with self._connect() as conn:
                conn.execute("INSERT INTO refused VALUES (?, ?)", (user.id, datetime.now(UTC).isoformat(timespec="seconds")))
            raise WrongPassphrase(_("wrong passphrase for {name}").format(name=user.name))
        return user, key

    def refusals(self) -> list[tuple[int, str, str]]:
        """Wrong passphrases not yet audited: (row, user id, when)."""
        with self._connect() as conn:
            return conn.execute("SELECT rowid, user_id, at FROM refused ORDER BY rowid").fetchall()

    def forget_refusals(self, up_to: int) -> None:
        with self._connect() as conn:
            conn.execute("DELETE FROM refused WHERE rowid <= ?", (up_to,))

    def change_passphrase(self, name: str, old: str, new: str) -> None:
        user, key = self.unlock(name, old)
        memory_kib, iterations, lanes, salt, nonce, sealed = self._seal(user.id, new, key, KDF)
        with self._transaction() as conn:  # one row replaced atomically: the old or the new passphrase opens
            conn.execute("UPDATE users SET memory_kib = ?, iterations = ?, lanes = ?, salt = ?, nonce = ?, "
                         "sealed = ? WHERE id = ?", (memory_kib, iterations, lanes, salt, nonce, sealed, user.id))
            crashpoint("keystore.passwd.before_commit")
        crashpoint("keystore.passwd.after_commit")

    def _seal(self, user_id: str, passphrase: str, key: bytes, kdf: dict[str, int]) -> tuple:
        if len(passphrase) < MIN_PASSPHRASE:
            raise FieldkitError(_("a passphrase needs at least {n} characters").format(n=MIN_PASSPHRASE))
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        salt, nonce = os.urandom(16), os.urandom(12)
        kek = _derive(passphrase, salt, kdf["memory_kib"], kdf["iterations"], kdf["lanes"])
        aad = _aad(self.database_id(), user_id, kdf["memory_kib"], kdf["iterations"], kdf["lanes"])
        return kdf["memory_kib"], kdf["iterations"], kdf["lanes"], salt, nonce, AESGCM(kek).encrypt(nonce, key, aad)

    def slots(self, user_ids: Iterable[str]) -> list[Slot]:
        """These users' key slots as stored (a backup carries them to open it elsewhere)."""
        wanted = list(user_ids)
        with self._connect() as conn:
            rows = {row[0]: row for row in conn.execute(
                "SELECT id, memory_kib, iterations, lanes, salt, nonce, sealed FROM users")}
        return [Slot(*rows[user_id]) for user_id in wanted if user_id in rows]

    def image(self) -> bytes:
        """The whole keystore file as one consistent image (what a backup seals)."""
        with self._connect() as conn:
            return conn.serialize()


@dataclass(frozen=True)
class Slot:
    """One user's sealed copy of the database key, and the cost of the key that seals it."""

    user: str
    memory_kib: int
    iterations: int
    lanes: int
    salt: bytes
    nonce: bytes
    sealed: bytes


def open_slot(slot: Slot, passphrase: str, database_id: str) -> bytes | None:
    """The database key, or None if `passphrase` is not the one this slot was sealed with."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    kek = _derive(passphrase, slot.salt, slot.memory_kib, slot.iterations, slot.lanes)
    try:
        return AESGCM(kek).decrypt(slot.nonce, slot.sealed,
                                   _aad(database_id, slot.user, slot.memory_kib, slot.iterations, slot.lanes))
    except InvalidTag:
        return None


def _aad(database_id: str, user_id: str, memory_kib: int, iterations: int, lanes: int) -> bytes:
    # Binding the slot to this database and its cost parameters stops a slot being swapped in
    # from another keystore or downgraded to a cheaper KDF.
    return f"{database_id}|{user_id}|{memory_kib}|{iterations}|{lanes}".encode()
