"""Where each chain stands: the last entry of one origin, the highest seq of every origin.

Functions of a connection (a read, or a write transaction), used wherever a chain is extended,
checked or compared: both are index probes, never a scan of the journal.
"""

from __future__ import annotations

from typing import Any

# Each origin's highest seq, one probe per origin: a skip-scan written out, since SQLite's
# GROUP BY would read every entry of the journal.
HEADS = """
WITH RECURSIVE origins(origin) AS (
    SELECT min(origin) FROM journal
    UNION ALL
    SELECT (SELECT min(origin) FROM journal WHERE origin > origins.origin) FROM origins WHERE origin IS NOT NULL
)
SELECT origin, (SELECT max(seq) FROM journal WHERE journal.origin = origins.origin)
FROM origins WHERE origin IS NOT NULL
"""


def chain_head(conn: Any, origin: str) -> tuple[int, str] | None:
    """(seq, hash) of the origin's last entry held, or None."""
    row = conn.execute("SELECT seq, hash FROM journal WHERE origin = ? ORDER BY seq DESC LIMIT 1", (origin,)).fetchone()
    return (row[0], row[1]) if row else None


def heads(conn: Any) -> list[tuple[str, int]]:
    """(origin, highest seq) of every origin, in origin order."""
    return conn.execute(HEADS).fetchall()


def version_vector(conn: Any) -> dict[str, int]:
    # Contiguous by construction (receiving refuses gaps), so the highest seq is the whole prefix.
    return dict(heads(conn))


def get_meta(conn: Any, key: str, default: Any = None) -> Any:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else default
