"""A clinic on a stick: the encrypted database, its key slots and a manifest, and back again.

    fieldkit-backup-20261207-163000-1a2b3c4d/
      manifest.json     plain: what the backup is, its files' sizes and SHA-256, the key slots
                        that open it (sealed copies of the database key), and a seal over it all
      clinic.db         the SQLCipher database, copied online by `VACUUM INTO`: a read snapshot,
                        so the clinic screen goes on writing while it is made
      keystore.sealed   the laptop's keystore (staff names, roles, every user's slot), sealed with
                        AES-256-GCM under a key derived from the database key

Nothing in it is readable without a passphrase: the manifest names no person, the database and
the keystore are encrypted under the database key, and the key travels only in slots sealed by
Argon2id of a passphrase (the maker's, and every supervisor's, so the supervisor can restore a
laptop whoever backed it up). The manifest's seal (HMAC under the database key) and the
checksums refuse a backup altered after it was made. A backup is written as `….partial` and
renamed when complete, so a stick pulled out half-way never holds a backup that looks whole.

Restoring writes a fresh data directory and nothing else: it never overwrites a clinic. What the
restored laptop is in its network is decided above this layer (sync/reidentify.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from fieldkit.errors import FieldkitError, WrongPassphrase
from fieldkit.i18n import _
from fieldkit.permissions import SUPERVISOR
from fieldkit.store import fold
from fieldkit.store.connection import connect
from fieldkit.store.db import Store
from fieldkit.store.home import Home, owner_only
from fieldkit.store.keystore import Keystore, Slot, User, open_slot
from fieldkit.store.schema import MIGRATIONS

FORMAT = "fieldkit-backup/1"
MANIFEST, DATABASE, KEYSTORE = "manifest.json", "clinic.db", "keystore.sealed"
PREFIX = "fieldkit-backup-"
NICE = 10  # of the thread that copies: the clinic screen's searches come first
T = TypeVar("T")


class BackupRefused(FieldkitError):
    pass


@dataclass(frozen=True)
class Made:
    folder: Path
    entries: int
    size: int  # bytes on the stick
    seconds: float


@dataclass(frozen=True)
class Restored:
    store: Store
    user: User
    manifest: dict[str, Any]


def _subkey(key: bytes, purpose: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"fieldkit backup " + purpose).derive(key)


def _seal(manifest: dict[str, Any], key: bytes) -> str:
    body = json.dumps({k: v for k, v in manifest.items() if k != "seal"}, sort_keys=True, ensure_ascii=True).encode()
    return hmac.new(_subkey(key, b"manifest"), body, hashlib.sha256).hexdigest()


def _keystore_aad(manifest: dict[str, Any]) -> bytes:
    return f"{FORMAT}|{manifest['database_id']}|{manifest['created']}".encode()


def _digest(path: Path) -> dict[str, Any]:
    sha = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            sha.update(block)
    return {"size": path.stat().st_size, "sha256": sha.hexdigest()}


def _write(path: Path, data: bytes) -> None:
    with path.open("wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def _sync_folder(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def backup(home: Home, store: Store, key: bytes, user: User, destination: Path, *,
           now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Made:
    """Write a backup of the clinic into a new folder under `destination` (a stick's mount point)."""
    started = time.perf_counter()
    destination = Path(destination).expanduser()
    if home.holds(destination):
        raise BackupRefused(_("a backup goes onto a stick or another disk, not into the clinic's own folder"))
    if not destination.is_dir():
        raise BackupRefused(_("{path} is not a folder: is the stick mounted?").format(path=destination))
    created = now().astimezone(UTC)
    name = f"{PREFIX}{created:%Y%m%d-%H%M%S}-{store.device_id[:8]}"
    partial = destination / (name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)  # a backup pulled out half-way before, with this very name
    partial.mkdir(mode=0o700)
    try:
        entries, state, schema = _gently(lambda: _copy(store.path, key, partial / DATABASE))
        keystore = Keystore(home.keystore)
        manifest: dict[str, Any] = {
            "format": FORMAT, "fieldkit": _version(), "schema": schema,
            "created": created.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "database_id": keystore.database_id(), "device": store.device_id, "entries": entries,
            "state": state,
        }
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = os.urandom(12)
        sealed = AESGCM(_subkey(key, b"keystore")).encrypt(nonce, keystore.image(), _keystore_aad(manifest))
        _write(partial / KEYSTORE, nonce + sealed)
        supervisors = [u.id for u in keystore.users() if u.role in SUPERVISOR and u.id != user.id]
        manifest["slots"] = [{**asdict(slot), "salt": slot.salt.hex(), "nonce": slot.nonce.hex(),
                              "sealed": slot.sealed.hex()} for slot in keystore.slots([user.id, *supervisors])]
        manifest["files"] = _gently(lambda: {file: _digest(partial / file) for file in (DATABASE, KEYSTORE)})
        manifest["seal"] = _seal(manifest, key)
        _write(partial / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode())
        _sync_folder(partial)
        folder = destination / name
        partial.rename(folder)
        _sync_folder(destination)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    store.write(lambda tx: tx.audit(user.id, "backup", detail=f"{name}: {entries} entries"))
    size = sum(path.stat().st_size for path in folder.iterdir())
    return Made(folder, entries, size, time.perf_counter() - started)


def _gently(job: Callable[[], T]) -> T:
    """Run `job` on a thread of its own at a lower CPU priority, and wait for it. Copying and
    hashing a clinic decrypts every page: at the screen's priority it would take a core from the
    searches typed meanwhile. (Linux sets nice per thread; the thread ends with the job, so no
    pooled thread stays slowed.)"""
    def lowered() -> T:
        with contextlib.suppress(OSError):  # a system that will not lower it: copy at full speed
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
        return job()

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fieldkit-backup") as pool:
        return pool.submit(lowered).result()


def _copy(source: Path, key: bytes, target: Path) -> tuple[int, str, int]:
    _copy_database(source, key, target)
    return _describe(target, key)


def _copy_database(source: Path, key: bytes, target: Path) -> None:
    # Its own connection: VACUUM INTO reads one snapshot while the clinic's writer goes on (WAL),
    # and writes a compact copy encrypted under the same key.
    conn = connect(source, key, reader=True)
    try:
        conn.execute("PRAGMA query_only = OFF")  # VACUUM INTO writes only the new file
        conn.execute("VACUUM INTO ?", (str(target),))
    finally:
        conn.close()
    with target.open("rb+") as file:
        os.fsync(file.fileno())


def _describe(database: Path, key: bytes) -> tuple[int, str, int]:
    """(entries, state hash, schema version) of a database copy, read from the copy itself."""
    conn = connect(database, key, reader=True)
    try:
        entries = conn.execute("SELECT count(*) FROM journal").fetchone()[0]
        schema = conn.execute("PRAGMA user_version").fetchone()[0]
        return entries, fold.state_hash(conn), schema
    finally:
        conn.close()


def _version() -> str:
    from importlib.metadata import version

    return version("fieldkit")


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of a backup folder, refused in one line if it is not one this release reads."""
    path = Path(folder).expanduser() / MANIFEST
    try:
        manifest = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise BackupRefused(_("{path} is not a fieldkit backup (no manifest)").format(path=folder)) from None
    except ValueError:
        raise BackupRefused(_("the backup's manifest is damaged")) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupRefused(_("{path} is not a fieldkit backup this version can read").format(path=folder))
    if manifest.get("schema", 0) > len(MIGRATIONS):
        raise BackupRefused(_("this backup was made by a newer fieldkit ({version}): install it first")
                            .format(version=manifest.get("fieldkit", "?")))
    return manifest


def verify_files(folder: Path, manifest: dict[str, Any]) -> None:
    """Refuse a backup whose files are missing or differ from the manifest's checksums."""
    for name in (DATABASE, KEYSTORE):
        expected = manifest.get("files", {}).get(name)
        path = Path(folder) / name
        if not expected or not path.is_file() or _digest(path) != expected:
            raise BackupRefused(_("the backup is damaged or was altered: {file} does not match its checksum")
                                .format(file=name))


def unseal(manifest: dict[str, Any], passphrase: str) -> tuple[str, bytes]:
    """(user id, database key) from the first slot the passphrase opens; the manifest's seal checked."""
    for slot in manifest.get("slots", []):
        key = open_slot(Slot(slot["user"], slot["memory_kib"], slot["iterations"], slot["lanes"],
                             bytes.fromhex(slot["salt"]), bytes.fromhex(slot["nonce"]), bytes.fromhex(slot["sealed"])),
                        passphrase, manifest["database_id"])
        if key is not None:
            if not hmac.compare_digest(_seal(manifest, key), str(manifest.get("seal", ""))):
                raise BackupRefused(_("the backup's manifest was altered: refusing to restore it"))
            return slot["user"], key
    raise WrongPassphrase(_("that passphrase opens none of this backup's key slots (the one who made it, "
                            "or a supervisor, can restore it)"))


def restore(folder: Path, home: Home, passphrase: str) -> Restored:
    """Restore a backup into `home`, which must hold no clinic; the caller closes the store."""
    folder = Path(folder).expanduser()
    manifest = read_manifest(folder)
    if home.keystore.exists() or home.database.exists():
        raise BackupRefused(_("there is already a clinic in {path}: restore into an empty folder").format(path=home.path))
    verify_files(folder, manifest)
    user_id, key = unseal(manifest, passphrase)
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    sealed = (folder / KEYSTORE).read_bytes()
    try:
        image = AESGCM(_subkey(key, b"keystore")).decrypt(sealed[:12], sealed[12:], _keystore_aad(manifest))
    except InvalidTag:
        raise BackupRefused(_("the backup is damaged or was altered: {file} does not match its checksum")
                            .format(file=KEYSTORE)) from None
    home.make()
    try:
        _place(image, home.keystore)
        owner_only(home.database)
        with (folder / DATABASE).open("rb") as source, home.database.open("r+b") as target:
            shutil.copyfileobj(source, target, 1 << 20)
            target.flush()
            os.fsync(target.fileno())
        keystore = Keystore(home.keystore)
        if keystore.database_id() != manifest["database_id"]:
            raise BackupRefused(_("the backup's keystore belongs to another clinic"))
        store = Store(home.database, key)  # migrates a backup made by an earlier release
        if store.state_hash() != manifest["state"]:
            store.close()
            raise BackupRefused(_("the restored records differ from the backup's (its state hash): nothing was kept"))
    except BaseException:
        for leftover in (home.keystore, *home.path.glob(home.database.name + "*")):
            leftover.unlink(missing_ok=True)
        raise
    user = next(u for u in keystore.users() if u.id == user_id)
    return Restored(store, user, manifest)


def _place(image: bytes, path: Path) -> None:
    """Write a serialized SQLite image as a database file, readable by its owner alone."""
    owner_only(path)
    memory = sqlite3.connect(":memory:")
    target = sqlite3.connect(path)
    try:
        memory.deserialize(image)
        memory.backup(target)
    finally:
        target.close()
        memory.close()
