"""A clinic network simulated end to end: laptops registering, editing and recording while they meet
in random pairs over real TLS sessions on loopback, some pairs cut off from each other for a while
(a partition), entries travelling through relays. Then everyone meets around a ring twice (heal)
and every laptop must hold the same journal, the same folded state and the same conflicts.

Seeded: a failing seed replays the same sequence of operations (the clocks, ids and keys differ).
"""

from __future__ import annotations

import random
from collections import defaultdict
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import pytest
from sync_support import Forced, Laptop, conflict_rows, journal, network, serving, session, state

from fieldkit.records import queries
from fieldkit.store.entities import MUTABLE
from fieldkit.store.fold import conflict_key, field_versions
from fieldkit.store.journal import Entry, canonical, parse

PLAIN = {"phone": ["+84901000001", "+84901000002", "+84901000003", "+84901000004"],
         "locality": ["Vinh Chau", "Soc Trang", "Can Tho", "My Xuyen", "Long Phu"]}
SAFETY = {"sex": ["female", "male", "other", "unknown"],
          "birth_date": ["1950-06-01", "1972-01-15", "1988-03-02", "1999-12-31", "2010-07-07"],
          "allergies": [["penicillin"], ["sulfa"], ["latex", "penicillin"], ["peanuts"]]}
NAMES = ["Lan", "Minh", "Hoa", "Tuan", "Mai", "Khanh", "Linh", "Bao", "Thu", "Duc"]
OPERATIONS = {"register": 3, "edit plain": 3, "edit safety": 3, "encounter": 3, "concurrent safety edits": 2,
              "resolve": 1, "sync": 7}


def pick(rng: random.Random, pool: list, *, unlike: list) -> Any:
    """A value from `pool` other than those in `unlike`: one draw, whatever the laptops hold, so a
    seed always draws the same sequence."""
    start = rng.randrange(len(pool))
    for i in range(len(pool)):
        value = pool[(start + i) % len(pool)]
        if value not in unlike:
            return value
    raise AssertionError("pool too small")


@dataclass
class Mesh:
    laptops: list[Laptop]
    servers: list[Any]
    rng: random.Random
    labels: dict[str, int] = field(default_factory=dict)  # patient id -> order of registration
    forced: list[Forced] = field(default_factory=list)
    allowed: set[frozenset[int]] = field(default_factory=set)
    sessions: int = 0

    # -- what a laptop holds -------------------------------------------------------------------

    def held(self, x: int) -> list[str]:
        ids = self.laptops[x].store.read(lambda conn: [row[0] for row in conn.execute("SELECT id FROM patients")])
        return sorted(ids, key=self.labels.__getitem__)

    def current(self, x: int, patient: str) -> dict[str, Any]:
        return self.laptops[x].store.read(lambda conn: queries.patient_fields(conn, patient))

    # -- operations ----------------------------------------------------------------------------

    def register(self, x: int) -> str:
        n = len(self.labels)
        patient = {"given_name": f"{NAMES[n % len(NAMES)]} {n}", "family_name": "Nguyen",
                   "sex": self.rng.choice(SAFETY["sex"]), "birth_date": self.rng.choice(SAFETY["birth_date"]),
                   "locality": self.rng.choice(PLAIN["locality"])}
        patient_id = self.laptops[x].clinic.register(patient).patient_id
        self.labels[patient_id] = n
        return patient_id

    def some_patient(self, x: int, *, shared: bool = False) -> str:
        held = self.held(x)
        if shared:  # prefer patients other laptops hold too
            others = set().union(*(self.held(y) for y in range(len(self.laptops)) if y != x))
            held = [p for p in held if p in others] or held
        return self.rng.choice(held) if held else self.register(x)

    def edit(self, x: int, pools: dict[str, list], *, shared: bool = False) -> None:
        patient = self.some_patient(x, shared=shared)
        name = self.rng.choice(sorted(pools))
        value = pick(self.rng, pools[name], unlike=[self.current(x, patient).get(name)])
        assert self.laptops[x].clinic.edit(patient, {name: value}) == [name]

    def encounter(self, x: int) -> None:
        patient = self.some_patient(x)
        self.laptops[x].clinic.record_encounter({"patient_id": patient, "kind": "visit", "vitals": {
            "pulse": self.rng.randint(50, 130), "resp_rate": self.rng.randint(10, 28),
            "temperature_c": self.rng.choice([36.6, 37.4, 38.9])}})

    def resolve(self, x: int) -> None:
        open_ = self.laptops[x].store.read(lambda conn: queries.conflicts(conn))
        if not open_:
            return
        open_.sort(key=lambda c: (self.labels[c["patient_id"]], c["field"]))
        conflict = self.rng.choice(open_)
        value = self.rng.choice(conflict["candidates"])["value"]
        self.laptops[x].clinic.resolve_conflict(conflict["id"], value, "checked with the patient")

    async def sync(self, x: int, y: int) -> None:
        assert frozenset((x, y)) in self.allowed, "the simulation broke its own partition"
        client, server = self.laptops[x], self.laptops[y]
        mine, theirs = await session(client, self.servers[y])
        self.sessions += 1
        # One session leaves both holding everything either held: same entries, same fold.
        assert state(client) == state(server)
        assert mine.received == theirs.sent and mine.sent == theirs.received

    async def concurrent_safety_edits(self, *who: int) -> None:
        """Two or three laptops meet (through the first), then each changes one safety field of one
        patient to a different value, all from the version they now share."""
        x, others = who[0], who[1:]
        for y in others:
            await self.sync(x, y)
        patient = self.some_patient(x)
        for y in others:  # again, so all hold what x holds (the patient may just have been registered)
            await self.sync(x, y)
        name = self.rng.choice(sorted(SAFETY))
        values: list[Any] = [self.current(x, patient).get(name)]
        for _ in who:
            values.append(pick(self.rng, SAFETY[name], unlike=values))
        bases = {self.laptops[z].store.read(lambda conn: field_versions(conn, patient)).get(name, "") for z in who}
        assert len(bases) == 1
        for z, value in zip(who, values[1:]):
            assert self.laptops[z].clinic.edit(patient, {name: value}) == [name]
        self.forced.append(Forced(patient, name, bases.pop(), tuple(values[1:])))

    async def step(self) -> None:
        kinds, weights = zip(*OPERATIONS.items())
        kind = self.rng.choices(kinds, weights)[0]
        x = self.rng.randrange(len(self.laptops))
        partners = sorted(y for y in range(len(self.laptops)) if frozenset((x, y)) in self.allowed and y != x)
        if kind in ("sync", "concurrent safety edits"):
            if not partners:
                kind = "register"
            else:
                y = self.rng.choice(partners)
                third = [z for z in partners if z != y]
                if kind != "sync" and third and self.rng.random() < 0.6:
                    y = (y, self.rng.choice(third))  # three-way: one conflict with three candidates
        if kind == "register":
            self.register(x)
        elif kind == "edit plain":
            self.edit(x, PLAIN)
        elif kind == "edit safety":
            self.edit(x, SAFETY, shared=True)
        elif kind == "encounter":
            self.encounter(x)
        elif kind == "resolve":
            self.resolve(x)
        elif kind == "sync":
            await self.sync(x, y)
        else:
            await self.concurrent_safety_edits(x, *(y if isinstance(y, tuple) else (y,)))

    def partition(self, cut: bool) -> None:
        """Who may meet in the next phase: everyone, or two groups that cannot reach each other."""
        everyone = list(range(len(self.laptops)))
        if not cut:
            groups = [everyone]
        else:
            self.rng.shuffle(everyone)
            split = self.rng.randint(1, len(everyone) - 1)
            groups = [everyone[:split], everyone[split:]]
        self.allowed = {frozenset((x, y)) for group in groups for x in group for y in group if x != y}


def expected_conflicts(rows: set[tuple]) -> dict[str, tuple[str, str, str, set[str]]]:
    """From the journal alone: writes of one field of one record that saw the same base and chose
    different values. conflict id -> (entity id, field, base, values)."""
    values: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for row in rows:
        entry = Entry(*row)
        if entry.entity in MUTABLE:
            payload = entry.payload
            for name, value in payload.get("fields", {}).items():
                values[(entry.entity_id, name, payload.get("base", {}).get(name, ""))].add(canonical(value))
    return {conflict_key(*key): (*key, seen) for key, seen in values.items() if len(seen) > 1}


async def simulate(tmp_path, count: int, seed: int, *, phases: int, steps: int) -> Mesh:
    laptops = network(tmp_path, count)
    try:
        async with AsyncExitStack() as stack:
            servers = [await stack.enter_async_context(serving(laptop)) for laptop in laptops]
            mesh = Mesh(laptops, servers, random.Random(seed))
            for x in range(count):  # a few patients everywhere to start with
                mesh.register(x)
            for phase in range(phases):
                mesh.partition(cut=phase % 2 == 0)
                for _ in range(steps):
                    await mesh.step()
            mesh.partition(cut=False)
            if not mesh.forced:  # every seed makes at least one conflict on purpose
                await mesh.concurrent_safety_edits(0, 1)

            saved = set().union(*(journal(laptop) for laptop in laptops))
            own = {laptop.device: laptop.store.version_vector()[laptop.device] for laptop in laptops}
            for _ in range(2):  # heal: around the ring twice
                for x in range(count):
                    await mesh.sync(x, (x + 1) % count)

            check_converged(mesh, saved, own)
            return mesh
    finally:
        for laptop in laptops:
            laptop.store.close()


def check_converged(mesh: Mesh, saved: set[tuple], own: dict[str, int]) -> None:
    laptops = mesh.laptops
    first = laptops[0]
    entries = journal(first)
    assert saved <= entries, "an entry saved somewhere was lost"
    assert len(entries) == sum(own.values())
    assert first.store.version_vector() == own
    for laptop in laptops[1:]:
        assert journal(laptop) == entries
        assert state(laptop) == state(first)

    conflicts = conflict_rows(first)
    expected = expected_conflicts(entries)
    assert set(conflicts) == set(expected)
    for conflict_id, (patient, name, base, values) in expected.items():
        entity_id, row_field, row_base, safety, candidates = conflicts[conflict_id]
        assert (entity_id, row_field, row_base) == (patient, name, base)
        assert safety == int(name in SAFETY)
        assert {canonical(c["value"]) for c in parse(candidates)} == values
    for laptop in laptops[1:]:
        assert conflict_rows(laptop) == conflicts

    assert mesh.forced
    for forced in mesh.forced:
        conflict_id = conflict_key(forced.patient, forced.name, forced.base)
        for laptop in laptops:  # exactly one row for the pair of edits, on every laptop
            rows = [cid for cid, row in conflict_rows(laptop).items()
                    if row[:3] == (forced.patient, forced.name, forced.base)]
            assert rows == [conflict_id]
        candidates = {canonical(c["value"]) for c in parse(conflicts[conflict_id][4])}
        assert {canonical(value) for value in forced.values} <= candidates
        assert conflicts[conflict_id][3] == 1  # a safety field: waits for a supervisor

    before = first.store.state_hash()
    first.store.rebuild()  # folding the same journal from scratch, in another order, agrees
    assert first.store.state_hash() == before


@pytest.mark.parametrize("seed", [101, 202, 303, 404])
async def test_three_laptops_converge_through_partitions_and_relays(tmp_path, seed):
    mesh = await simulate(tmp_path, 3, seed, phases=4, steps=40)
    assert mesh.sessions >= 6


@pytest.mark.parametrize("seed", [505, 606])
async def test_five_laptops_converge_through_partitions_and_relays(tmp_path, seed):
    mesh = await simulate(tmp_path, 5, seed, phases=4, steps=40)
    assert mesh.sessions >= 10
