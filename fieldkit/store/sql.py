"""The one spelling of a write transaction, for every SQLite file fieldkit writes (the clinic
database, the keystore, the hub's SQLite): taken with the write lock at once, so two processes
queue at BEGIN rather than fail halfway, and rolled back whole if anything raises."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def immediate(conn: Any) -> Iterator[Any]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # an error SQLite rolled back itself leaves nothing to undo
            conn.execute("ROLLBACK")
        raise
