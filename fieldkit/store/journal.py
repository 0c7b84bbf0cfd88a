"""Journal entries: the append-only, per-origin hash-chained truth every table is folded from.

An entry is immutable once made. Its hash covers every field including the previous entry's hash,
so a relay can forward it verbatim and any receiver can check it was neither altered nor
reordered. `data` is kept as the exact canonical JSON text that was hashed, never re-serialised.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from fieldkit.errors import ChainError

SCHEMA_VERSION = 1
GENESIS = "0" * 64
COLUMNS = ("origin", "seq", "hlc", "entity", "entity_id", "op", "author", "schema", "prev", "hash", "data")
_TYPES = (str, int, int, str, str, str, str, int, str, str, str)


def canonical(value: Any) -> str:
    """The one JSON spelling of a value: sorted keys, no spaces, UTF-8 kept as is.

    orjson, a dozen times faster than the standard library here; hashes never depend on
    re-spelling a value, because an entry keeps the exact text its hash covers.
    """
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


parse = orjson.loads


@dataclass(frozen=True, slots=True)
class Entry:
    origin: str
    seq: int
    hlc: int
    entity: str
    entity_id: str
    op: str
    author: str
    schema: int
    prev: str
    hash: str
    data: str

    @property
    def version(self) -> str:
        """Total order of writes everywhere: HLC first, origin breaks ties."""
        return version(self.hlc, self.origin)

    @property
    def payload(self) -> dict[str, Any]:
        return parse(self.data)

    def row(self) -> tuple:
        # Not dataclasses.astuple: it deep-copies every field, a third of an append's time.
        return (self.origin, self.seq, self.hlc, self.entity, self.entity_id, self.op, self.author,
                self.schema, self.prev, self.hash, self.data)

    def to_wire(self) -> dict[str, Any]:
        return dict(zip(COLUMNS, self.row()))

    @classmethod
    def from_wire(cls, obj: Mapping[str, Any]) -> "Entry":
        try:
            return cls.from_row([obj[name] for name in COLUMNS])
        except KeyError as exc:
            raise ChainError(f"malformed journal entry: missing {exc}") from None

    @classmethod
    def from_row(cls, row: Any) -> "Entry":
        """An entry received as a list of values in COLUMNS order, every type checked."""
        if type(row) is not list or len(row) != len(COLUMNS):
            raise ChainError(f"malformed journal entry: expected {len(COLUMNS)} values")
        for name, value, kind in zip(COLUMNS, row, _TYPES):
            if type(value) is not kind:
                raise ChainError(f"malformed journal entry: {name} must be {kind.__name__}")
        if row[1] < 1:  # chains start at 1: a seq of 0 or below is held by nobody, and must not be looked up
            raise ChainError("malformed journal entry: seq must be 1 or more")
        return cls(*row)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """An origin's signature over one of its entries' hashes, which vouches for the whole chain up
    to it: one signature to check per batch instead of one per entry. Relays keep and forward it."""

    origin: str
    seq: int
    hash: str
    signature: bytes

    @property
    def message(self) -> bytes:
        return checkpoint_message(self.origin, self.seq, self.hash)


def checkpoint_message(origin: str, seq: int, digest: str) -> bytes:
    return f"fieldkit checkpoint\n{origin}\n{seq}\n{digest}".encode()


def version(hlc: int, origin: str) -> str:
    # Fixed-width hex makes the string order equal the (hlc, origin) order, so SQL max() works.
    return f"{hlc:016x}.{origin}"


def compute_hash(origin: str, seq: int, hlc: int, entity: str, entity_id: str, op: str,
                 author: str, schema: int, prev: str, data: str) -> str:
    header = canonical([origin, seq, hlc, entity, entity_id, op, author, schema, prev])
    return hashlib.sha256(f"{header}\n{data}".encode()).hexdigest()


def make_entry(*, origin: str, seq: int, prev: str, hlc: int, entity: str, entity_id: str,
               op: str, author: str, payload: Mapping[str, Any]) -> Entry:
    data = canonical(payload)
    digest = compute_hash(origin, seq, hlc, entity, entity_id, op, author, SCHEMA_VERSION, prev, data)
    return Entry(origin, seq, hlc, entity, entity_id, op, author, SCHEMA_VERSION, prev, digest, data)


def verify_hash(entry: Entry) -> None:
    expected = compute_hash(entry.origin, entry.seq, entry.hlc, entry.entity, entry.entity_id,
                            entry.op, entry.author, entry.schema, entry.prev, entry.data)
    if expected != entry.hash:
        raise ChainError(f"entry {entry.origin[:8]}#{entry.seq} does not match its hash (altered in transit or on disk)")
    try:
        payload = parse(entry.data)
    except ValueError:
        raise ChainError(f"entry {entry.origin[:8]}#{entry.seq} carries data that is not JSON") from None
    if not isinstance(payload, dict):
        raise ChainError(f"entry {entry.origin[:8]}#{entry.seq} carries data that is not an object")


def plan_chain(entries: Iterable[Entry], heads: Mapping[str, tuple[int, str]]) -> list[Entry]:
    """Check received entries against the heads we hold and return the new ones in chain order.

    `heads` maps origin -> (highest contiguous seq, its hash). Entries we already hold are dropped
    when identical (a replay is harmless) and refused when different (two histories for one seq).
    Anything that would leave a gap or break a link refuses the whole batch: nothing is applied.
    """
    by_origin: dict[str, list[Entry]] = {}
    for entry in entries:
        verify_hash(entry)
        by_origin.setdefault(entry.origin, []).append(entry)
    fresh: list[Entry] = []
    for origin, chain in by_origin.items():
        chain.sort(key=lambda e: e.seq)
        seq, head = heads.get(origin, (0, GENESIS))
        for entry in chain:
            if entry.seq <= seq:
                continue  # already held; identity is checked by the caller against the stored hash
            if entry.seq != seq + 1:
                raise ChainError(f"entries from {origin[:8]} skip from #{seq} to #{entry.seq}; send the missing range first")
            if entry.prev != head:
                raise ChainError(f"entry {origin[:8]}#{entry.seq} does not follow #{seq}: broken hash chain")
            fresh.append(entry)
            seq, head = entry.seq, entry.hash
    return fresh


def count_held(entries: Iterable[Entry], heads: Mapping[str, tuple[int, str]],
               stored_hash: Callable[[str, int], str]) -> int:
    """How many received entries are already held (at or below their origin's head); one that
    differs from the stored entry of its (origin, seq) raises ChainError."""
    held = 0
    for entry in entries:
        if entry.seq <= heads.get(entry.origin, (0,))[0]:
            if stored_hash(entry.origin, entry.seq) != entry.hash:
                raise ChainError(f"entry {entry.origin[:8]}#{entry.seq} differs from the one held: "
                                 "two histories for one device (cloned or restored laptop?)")
            held += 1
    return held


def role_grants(rows: Iterable[tuple[int, str, str]]) -> list[tuple[str, str]]:
    """(version, role) of each role a user's journal rows (hlc, origin, data) gave, oldest first."""
    return [(version(hlc, origin), role) for hlc, origin, data in sorted(rows)
            if (role := parse(data).get("fields", {}).get("role"))]
