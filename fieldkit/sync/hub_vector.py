"""What the hub has acknowledged, as this laptop remembers it: the hub's vector from its last ack.

Kept apart from the forwarder so the clinic screen counts "pending for hub" without loading
the HTTP client.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from fieldkit.store.db import Store
from fieldkit.store.heads import get_meta, version_vector
from fieldkit.store.journal import canonical, parse

STAMP = "%Y-%m-%dT%H:%M:%SZ"


def lacking(holder: Mapping[str, int], other: Mapping[str, int]) -> int:
    """How many entries `holder` lacks of what `other` holds."""
    return sum(max(0, top - holder.get(origin, 0)) for origin, top in other.items())


def pending(conn: Any) -> int:
    """Entries this laptop holds that the hub has not acknowledged (all of them, before a first push)."""
    return lacking(parse(get_meta(conn, "hub_vector", "{}")), version_vector(conn))


def last_success(conn: Any) -> datetime | None:
    """When a round with the hub last finished (UTC); None if none ever has."""
    stamp = get_meta(conn, "hub_last_success")
    return datetime.strptime(stamp, STAMP).replace(tzinfo=UTC) if stamp else None


def remember(store: Store, vector: Mapping[str, int], *, finished: bool = False) -> None:
    """Keep the hub's vector from an ack; and the time, when the round is over. A round cut off
    part-way has moved entries, but is not a success the header should show."""
    store.set_meta({"hub_vector": canonical(dict(vector))}
                   | ({"hub_last_success": datetime.now(UTC).strftime(STAMP)} if finished else {}))
