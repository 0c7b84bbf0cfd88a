"""Opening the clinic database: SQLCipher keyed with a raw 256-bit key, then checked.

`PRAGMA key` must be the first statement on the connection and is not checked by SQLCipher
itself, so a cheap read follows it: a wrong key fails here, before anything is written.
"""

from __future__ import annotations

import re
from pathlib import Path

import sqlcipher3

from fieldkit.errors import FieldkitError, WrongPassphrase, disk_refused
from fieldkit.store.home import owner_only
from fieldkit.store.schema import migrate

# sqlite-utils catches the standard library's exception classes; sqlcipher3 raises its own, so
# callers inside store/ catch these instead.
DatabaseError = sqlcipher3.DatabaseError
OperationalError = sqlcipher3.OperationalError
IntegrityError = sqlcipher3.IntegrityError

# Ceilings, filled only as pages are read. A first sync of 100,000 entries folds 40% faster with
# 256 MiB than with 64 MiB (bench/sync.py), and a 4 GB laptop has room for it; a reader's cache
# holds the search index's hot pages, which 64 MiB does at 100,000 patients.
CACHE_KIB = 256 * 1024
READER_CACHE_KIB = 64 * 1024
# How long a write waits for another process's transaction to end before it gives up.
BUSY_MS = 30_000
_HEX_KEY = re.compile(r"[0-9a-f]{64}")


def use_key(conn: sqlcipher3.Connection, key: bytes) -> None:
    """Key a new connection (its first statement); refuse if this SQLite cannot encrypt."""
    hex_key = key.hex()
    # PRAGMA key cannot take a bound parameter; a checked hex literal cannot inject.
    if not _HEX_KEY.fullmatch(hex_key):
        raise FieldkitError("a database key must be 32 bytes")
    conn.execute(f"PRAGMA key = \"x'{hex_key}'\"")
    if not conn.execute("PRAGMA cipher_version").fetchone():
        raise FieldkitError("SQLCipher is not available: refusing to store records unencrypted")


def connect(path: Path, key: bytes | None, *, reader: bool = False) -> sqlcipher3.Connection:
    """Open (creating and migrating if needed) the database; `key=None` gives plain SQLite, for
    baselines only. A reader's connection refuses every write (`query_only`) and migrates nothing."""
    owner_only(path)
    conn = sqlcipher3.connect(str(path), isolation_level=None, check_same_thread=True, timeout=BUSY_MS / 1000)
    try:
        if key is not None:
            use_key(conn, key)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except DatabaseError as exc:
            if disk_refused(exc):  # a full disk, not a wrong key: SQLite could not make its shared-memory index
                raise
            raise WrongPassphrase("cannot open the clinic database: wrong key or not a fieldkit database") from None
        conn.execute(f"PRAGMA busy_timeout = {BUSY_MS}")
        if not reader:
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        # Sorts and temporary tables would otherwise spill to unencrypted temp files.
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute("PRAGMA foreign_keys = OFF")
        # Every page read from disk is decrypted and every page written encrypted: a page cache
        # that holds the search index's hot pages spares most of that work.
        conn.execute(f"PRAGMA cache_size = -{READER_CACHE_KIB if reader else CACHE_KIB}")
        if key is not None:
            conn.execute("PRAGMA cipher_memory_security = OFF")
        if conn.execute("PRAGMA temp_store").fetchone()[0] != 2:
            raise FieldkitError("temp_store is not MEMORY: refusing to risk plaintext temp files")
        if reader:
            conn.execute("PRAGMA query_only = ON")
        else:
            migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn
