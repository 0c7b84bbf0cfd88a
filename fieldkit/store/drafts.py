"""Unsaved forms, kept in the encrypted database until they are saved or dropped.

A draft is not a record: it is never journalled, folded or synced, and `db rebuild` leaves it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fieldkit.store.journal import canonical, parse


def keep(conn, key: str, data: dict[str, Any]) -> None:
    conn.execute("INSERT OR REPLACE INTO drafts VALUES (?, ?, ?)",
                 (key, canonical(data), datetime.now(UTC).isoformat(timespec="seconds")))


def load(conn, key: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT data FROM drafts WHERE key = ?", (key,)).fetchone()
    return parse(row[0]) if row else None


def drop(conn, key: str) -> None:
    conn.execute("DELETE FROM drafts WHERE key = ?", (key,))
