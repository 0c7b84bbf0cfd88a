"""What T18's state machine (test_partitions.py) needs beyond sync_support: the merge rules of
DESIGN.md computed again from a journal, independently of fieldkit's fold, to compare the fold
with; a digest of a laptop; batches delivered by hand, twice or out of order; a session cut short.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sync_support import Laptop

from fieldkit.errors import FieldkitError
from fieldkit.store.entities import PATIENT
from fieldkit.store.fold import conflict_key
from fieldkit.store.journal import Entry, canonical, parse
from fieldkit.store.outgoing import Outgoing
from fieldkit.store.transaction import Ingested
from fieldkit.sync import messages
from fieldkit.sync.peer import sync_with
from fieldkit.sync.session import Report
from fieldkit.sync.verify import Verifier
from fieldkit.sync.wire import encode, unframe

# DESIGN.md decision 2: "Safety fields (birth date, sex, allergies, identifiers) always go to a
# supervisor's conflict inbox". Written out here rather than read from fieldkit.store.entities.
SAFETY_FIELDS = frozenset({"birth_date", "birth_date_estimated", "sex", "allergies", "identifiers"})


# -- the merge rules, from the journal alone ---------------------------------------------------------

def held_back(entries: Iterable[Entry]) -> set[tuple[str, int]]:
    """(origin, seq) of entries beyond the highest cut-off any revocation of their laptop gave."""
    entries = list(entries)
    cutoffs: dict[str, int] = {}
    for entry in entries:
        if entry.entity == "device" and entry.op in ("revoke", "release"):
            cutoffs[entry.entity_id] = max(cutoffs.get(entry.entity_id, -1), entry.payload["cutoff"])
    return {(e.origin, e.seq) for e in entries if e.origin in cutoffs and e.seq > cutoffs[e.origin]}


@dataclass
class Expected:
    """What the fold must show for a journal: patients field by field, conflicts, encounters."""

    held: set[tuple[str, int]]
    patients: dict[str, dict[str, Any]] = field(default_factory=dict)
    conflicts: dict[str, tuple[str, str, str, int, set[str]]] = field(default_factory=dict)
    encounters: set[str] = field(default_factory=set)
    voided: set[str] = field(default_factory=set)


def expected(entries: Iterable[Entry]) -> Expected:
    """Per field, the write with the highest (HLC, origin) wins; writes of one field that saw the
    same version (`base`) and chose different values are a conflict holding every value; held
    entries count for nothing."""
    entries = list(entries)
    out = Expected(held_back(entries))
    siblings: dict[tuple[str, str, str, str], set[str]] = defaultdict(set)
    for entry in sorted((e for e in entries if (e.origin, e.seq) not in out.held), key=lambda e: (e.hlc, e.origin)):
        payload = entry.payload
        fields = payload.get("fields", {})
        if entry.entity in ("patient", "referral", "followup", "user"):
            for name, value in fields.items():
                siblings[(entry.entity, entry.entity_id, name, payload.get("base", {}).get(name, ""))].add(
                    canonical(value))
        if entry.entity == "patient":
            row = out.patients.setdefault(entry.entity_id, {"created": entry.version})
            row.update(fields)
            row["updated"] = entry.version
            if fields.get("voided"):
                out.voided.add(entry.entity_id)
        elif entry.entity == "encounter" and entry.op == "create":
            out.encounters.add(entry.entity_id)
    for (entity, entity_id, name, base), values in siblings.items():
        if len(values) > 1:
            safety = int(entity == "patient" and name in SAFETY_FIELDS)
            out.conflicts[conflict_key(entity_id, name, base)] = (entity_id, name, base, safety, values)
    return out


def as_stored(name: str, value: Any) -> Any:
    """A field's value as the patients table keeps it (lists and maps as JSON text, flags as 0/1)."""
    if value is None:
        return None
    if name in PATIENT.json_fields:
        return canonical(value)
    if name in PATIENT.flag_fields:
        return int(bool(value))
    return value


def check_fold(laptop: Laptop, want: Expected) -> None:
    """The laptop's folded tables are what the merge rules make of its journal."""
    def tables(conn) -> tuple[list, list, set, set]:
        columns = ", ".join(PATIENT.columns)
        return (conn.execute(f"SELECT {columns} FROM patients").fetchall(),
                conn.execute("SELECT id, entity_id, field, base, safety, candidates FROM conflicts").fetchall(),
                {row[0] for row in conn.execute("SELECT id FROM encounters")},
                set(conn.execute("SELECT origin, seq FROM held")))
    patients, conflicts, encounters, held = laptop.store.read(tables)
    assert held == want.held, f"{laptop.name} holds back {sorted(held)}, the cut-offs say {sorted(want.held)}"
    folded = {row[0]: dict(zip(PATIENT.columns, row)) for row in patients}
    assert set(folded) == set(want.patients), f"{laptop.name}: patients differ from the journal's"
    for patient_id, values in want.patients.items():
        row = folded[patient_id]
        for name in (*PATIENT.fields, "created", "updated"):
            assert row[name] == as_stored(name, values.get(name)), (laptop.name, patient_id, name, row[name], values)
        if patient_id in want.voided:
            assert row["voided"] == 1, f"{laptop.name}: voided patient {patient_id} came back"
    found = {row[0]: (row[1], row[2], row[3], row[4], {canonical(c["value"]) for c in parse(row[5])})
             for row in conflicts}
    assert found == want.conflicts, f"{laptop.name}: conflicts differ from the journal's concurrent writes"
    assert encounters == want.encounters


def digest(laptop: Laptop) -> tuple[str, frozenset[tuple[str, int, str]]]:
    """The state hash of every folded table, and the journal as (origin, seq, hash)."""
    rows = laptop.store.read(lambda conn: conn.execute("SELECT origin, seq, hash FROM journal").fetchall())
    return laptop.store.state_hash(), frozenset(map(tuple, rows))


# -- batches by hand: what a session's receiving side does with one --------------------------------

def batches(source: Laptop, vector: dict[str, int], limit: int, most: int = 4) -> list[Outgoing]:
    """The batches `source` would stream, one after the other, to a holder of `vector`.

    The source signs each of its own entries first (an origin may sign any of them; sessions sign
    every 50th and the head), so that a batch can end anywhere in its run: a later batch of one
    chain can then be delivered before an earlier one."""
    assert source.member is not None
    source.store.sign_checkpoints(source.member.sign, every=1)
    vector, out = dict(vector), list[Outgoing]()
    while len(out) < most and (batch := source.store.outgoing(vector, limit)).entries:
        out.append(batch)
        vector |= {c.origin: c.seq for c in batch.checkpoints}
    return out


def on_the_wire(batch: Outgoing) -> messages.Batch:
    """The batch message as it arrives: framed, compressed, parsed and validated again."""
    parsed = messages.parse(unframe(encode(messages.dump(messages.batch(batch)))))
    assert isinstance(parsed, messages.Batch)
    return parsed


def leaves_gap(batch: Outgoing, vector: dict[str, int]) -> bool:
    """Would applying the batch skip entries of some origin that the holder of `vector` lacks?"""
    first: dict[str, int] = {}
    for entry in batch.entries:
        first[entry.origin] = min(entry.seq, first.get(entry.origin, entry.seq))
    return any(seq > vector.get(origin, 0) + 1 for origin, seq in first.items())


async def receive(receiver: Laptop, batch: Outgoing) -> Ingested:
    """Verify and apply one batch as a session's receiving side does (sync/session.py _receive)."""
    assert receiver.member is not None
    verified = await asyncio.to_thread(Verifier(receiver.store, receiver.member.network).check, on_the_wire(batch))
    return await receiver.store.aingest(verified.entries, verified.checkpoints, verified.certificates)


# -- sessions ----------------------------------------------------------------------------------------

async def meet(client: Laptop, server: Any, *, cut: bool = False) -> tuple[Report | FieldkitError | str, Any]:
    """One session from `client` to a `serving` server: each side's report, or its refusal. With
    `cut`, the client's session is cancelled at its first batch sent or applied, mid-way ("cut")."""
    def progress(report: Report) -> None:
        if cut:
            task.cancel()
    task = asyncio.ensure_future(sync_with(client.store, client.member, "127.0.0.1", server.port, progress=progress))
    await asyncio.wait([task])
    mine: Any = "cut" if task.cancelled() else task.exception() or task.result()
    # The server's side ends too (a refusal, a dropped line): nothing of it runs on afterwards.
    theirs, error = await asyncio.wait_for(server.sessions.get(), 30)
    if isinstance(mine, BaseException) and not isinstance(mine, FieldkitError):
        raise mine
    return mine, error or theirs
