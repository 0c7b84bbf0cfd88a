"""T18: partitions, crashes and duplicates (security.md 3), as a hypothesis state machine.

Each run is a clinic network of 3-7 laptops and a hub, all of them real: SQLCipher stores, LAN
sessions over mutual TLS on loopback, the hub's aiohttp server on SQLite. The rules register,
edit (plain and safety fields, and one field on two laptops from the version both saw), record
encounters, void; sync two laptops, round with the hub; partition and heal; deliver a batch twice
or out of order; cut a session mid-way and reopen a laptop's store; move a laptop's clock by hours
or days; revoke a laptop. After every step no laptop has lost or invented an entry of any origin.
After a final heal (no partition, every laptop with the hub and around the ring until all hold the
same vector) the laptops that are not revoked and the hub hold the same journal, the laptops the
same fold; nothing saved is missing but what a revoked laptop wrote after its cut-off and never
handed on; each chain verifies; and the fold is what DESIGN.md's merge rules, computed here again
from the journal, make of it: last writer wins per field, each concurrent edit a conflict (a safety
field's flagged for a supervisor), a revoked laptop's later entries held, no void undone.

The PR tier draws the same steps every time (derandomized), the deep tier new ones. A failing run
prints its steps, shrunk, and a @reproduce_failure blob that replays it.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from campaign_support import DEEP, record, scaled, verified
from hub_support import enrol_hub, running_hub
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from partition_support import (
    SAFETY_FIELDS,
    Expected,
    batches,
    check_fold,
    digest,
    expected,
    leaves_gap,
    meet,
    on_the_wire,
    receive,
)
from sync_support import Forced, Laptop, conflict_rows, copy_laptop, network, reopen, serving, sync

from fieldkit.errors import FieldkitError
from fieldkit.records import queries
from fieldkit.store.fold import conflict_key, field_versions
from fieldkit.store.hlc import MAX_DRIFT_MS, HybridClock, millis, wall_ms
from fieldkit.store.journal import Entry, canonical, parse
from fieldkit.sync import membership, messages
from fieldkit.sync.forwarder import HubClient, HubRefused, push

THREAT = "T18 partitions, crashes, duplicates (state machine)"
MOST = 7  # laptops in the largest network; the hub is node MOST in a partition
HUB = MOST
MORNING = 2  # patients each laptop of the pool registers after the others last saw it
RUNS = scaled(300, 1000)
STEPS = scaled(25, 40)

PLAIN: dict[str, list[Any]] = {"phone": ["+84901000001", "+84901000002", "+84901000003"],
                                "locality": ["Vinh Chau", "Soc Trang", "Can Tho"]}
SAFETY: dict[str, list[Any]] = {"sex": ["female", "male", "other"],
                                "birth_date": ["1950-06-01", "1972-01-15", "1999-12-31"],
                                "allergies": [["penicillin"], ["sulfa"], ["latex", "penicillin"]]}
POOLS = PLAIN | SAFETY

laptop_ = st.integers(0, MOST - 1)
pick_ = st.integers(0, 50)
REFUSED = object()  # what a save the services refused returns


@dataclass
class Figures:
    runs: int = 0
    steps: int = 0
    sessions: int = 0
    refused: int = 0  # sessions and hub rounds refused to or by a revoked laptop
    kills: int = 0  # a laptop's store closed and opened again
    cut: int = 0  # of them, after a session cut at its first batch
    duplicates: int = 0  # batches delivered again, applying nothing
    gaps: int = 0  # batches delivered ahead of what they follow, refused whole
    conflicts: int = 0  # concurrent edits of one field found as a conflict on every laptop
    safety: int = 0  # of them, of a safety field: in every supervisor's inbox
    checked: int = 0  # conflicts of any field, as the journal's concurrent writes make them, found so
    clock_bumps: int = 0
    revoked: int = 0
    held: int = 0  # entries a revoked laptop wrote after its cut-off, held on every laptop


@dataclass
class World:
    """What every run copies: a network of MOST enrolled laptops and a hub's identity, made once."""

    pool: list[Laptop]
    hub: Path
    root: Path
    patients: list[str]  # registered on the pool's laptops
    figures: Figures = field(default_factory=Figures)


async def together(*jobs: Any) -> list[Any]:
    return await asyncio.gather(*jobs)  # on the machine's loop, which a gather made outside it is not


def other_value(name: str, choice: int, unlike: list[Any]) -> Any:
    pool = POOLS[name]
    return next(v for i in range(len(pool)) if (v := pool[(choice + i) % len(pool)]) not in unlike)


class Partitions(RuleBasedStateMachine):
    def __init__(self, world: World) -> None:
        super().__init__()
        self.world, self.figures = world, world.figures
        self.loop = asyncio.new_event_loop()
        self.stack = AsyncExitStack()
        self.root: Path | None = None
        self.laptops: list[Laptop] = []
        self.servers: list[Any] = []
        self.serving: list[AsyncExitStack] = []
        self.hub: Any = None
        self.blocked: set[frozenset[int]] = set()
        self.saved: dict[tuple[str, int], str] = {}  # every entry a laptop wrote: (origin, seq) -> hash
        # In the order they were registered, so that a drawn index means one patient in every replay.
        self.patients: list[str] = list(world.patients)
        self.forced: list[Forced] = []
        self.in_flight: list[tuple[int, Any]] = []  # batches made by `deliver`: (source, batch)
        self.offsets: dict[int, int] = {}  # ms each laptop's wall clock is off by
        self.ahead: dict[int, int] = {}  # the furthest ahead each laptop's wall clock has been
        self.revoked: int | None = None
        self.cutoff = 0

    def run(self, job: Any) -> Any:
        return self.loop.run_until_complete(job)

    # -- the network -------------------------------------------------------------------------------

    @initialize(count=st.integers(3, MOST))
    def start(self, count: int) -> None:
        self.root = Path(tempfile.mkdtemp(dir=self.world.root))
        self.laptops = self.run(together(*(asyncio.to_thread(copy_laptop, laptop, self.root)
                                                 for laptop in self.world.pool[:count])))
        assert len({laptop.device for laptop in self.laptops}) == count  # copies of distinct laptops
        for laptop in self.laptops:
            self.saved |= {(e.origin, e.seq): e.hash for e in laptop.store.entries_after({}, 10**6)}
        shutil.copytree(self.world.hub, self.root / "hub")
        self.hub = self.run(self.stack.enter_async_context(
            running_hub(self.root / "hub", f"sqlite:///{self.root / 'hub' / 'hub.db'}")))
        for laptop in self.laptops:
            self.serving.append(AsyncExitStack())
            self.servers.append(self.run(self.serving[-1].enter_async_context(serving(laptop))))

    def laptop(self, x: int) -> int:
        return x % len(self.laptops)

    def partner(self, x: int, y: int) -> int:
        return (x + 1 + y % (len(self.laptops) - 1)) % len(self.laptops)

    def knows_revoked(self, node: int, other: int) -> bool:
        """Does `node` (a laptop or the hub) hold the revocation of `other`?"""
        if self.revoked is None or other != self.revoked:
            return False
        holder = self.hub.storage if node == HUB else self.laptops[node].store
        return self.laptops[other].device in holder.revoked()

    def refuses(self, x: int, y: int) -> bool:
        return self.knows_revoked(x, y) or self.knows_revoked(y, x)

    def write(self, x: int, job: Any) -> Any:
        """A save on laptop x, its result or REFUSED; each entry it journalled is kept as saved."""
        laptop = self.laptops[x]
        before = laptop.store.version_vector()[laptop.device]
        try:
            result = job(laptop.clinic)
        except FieldkitError:
            result = REFUSED  # refused by the services (a patient its fold shows only in part): nothing saved
        self.saved |= {(e.origin, e.seq): e.hash for e in laptop.store.entries_after({laptop.device: before}, 10**6)
                       if e.origin == laptop.device}
        assert (result is REFUSED) == (laptop.store.version_vector()[laptop.device] == before)
        return result

    def held(self, x: int) -> list[str]:
        ids = set(self.laptops[x].store.read(lambda conn: [row[0] for row in conn.execute("SELECT id FROM patients")]))
        return [p for p in self.patients if p in ids]

    def current(self, x: int, patient: str) -> dict[str, Any]:
        return self.laptops[x].store.read(lambda conn: queries.patient_fields(conn, patient)) or {}

    def base(self, x: int, patient: str, name: str) -> str:
        return self.laptops[x].store.read(lambda conn: field_versions(conn, patient)).get(name, "")

    def register_on(self, x: int, choice: int) -> str:
        fields = {"given_name": f"Patient {len(self.patients)}", "family_name": "Nguyen",
                  "sex": other_value("sex", choice, []), "birth_date": other_value("birth_date", choice, []),
                  "locality": other_value("locality", choice, [])}
        self.patients.append(self.write(x, lambda clinic: clinic.register(fields)).patient_id)
        return self.patients[-1]

    async def sync_pair(self, x: int, y: int) -> None:
        """A session between two laptops over TLS; refused whole if either knows the other revoked."""
        client, server = self.laptops[x], self.laptops[y]
        refused = self.refuses(x, y)
        before = (digest(client), digest(server)) if refused else None
        mine, theirs = await meet(client, self.servers[y])
        if refused:
            assert isinstance(mine, FieldkitError) and isinstance(theirs, FieldkitError), (mine, theirs)
            assert "revoked" in f"{mine} {theirs}"
            assert (digest(client), digest(server)) == before  # nothing exchanged
            self.figures.refused += 1
            return
        assert not isinstance(mine, FieldkitError) and not isinstance(theirs, FieldkitError), (mine, theirs)
        # One session: both hold all either held, folded alike.
        assert digest(client) == digest(server), f"{client.name} and {server.name} differ after a session"
        self.figures.sessions += 1

    async def hub_round(self, x: int) -> None:
        laptop = self.laptops[x]
        if self.knows_revoked(HUB, x):
            with pytest.raises(HubRefused, match="revoked"):
                await push(laptop.store, laptop.member, self.hub.url)
            self.figures.refused += 1
            return
        await push(laptop.store, laptop.member, self.hub.url)
        assert await asyncio.to_thread(self.hub.storage.version_vector) == laptop.store.version_vector()

    # -- rules ---------------------------------------------------------------------------------------

    @rule(x=laptop_, choice=pick_)
    def register(self, x: int, choice: int) -> None:
        self.register_on(self.laptop(x), choice)

    @rule(x=laptop_, which=pick_, name=st.sampled_from(sorted(POOLS)), choice=pick_)
    def edit(self, x: int, which: int, name: str, choice: int) -> None:
        x = self.laptop(x)
        held = self.held(x)
        if not held:
            self.register_on(x, choice)
            return
        patient = held[which % len(held)]
        value = other_value(name, choice, [self.current(x, patient).get(name)])
        self.write(x, lambda clinic: clinic.edit(patient, {name: value}))

    @rule(x=laptop_, y=laptop_, which=pick_, name=st.sampled_from(sorted(POOLS)), choice=pick_)
    def edit_concurrently(self, x: int, y: int, which: int, name: str, choice: int) -> None:
        """Two laptops change one field of a patient, each from the version both saw (having met
        first, if they can and share no patient yet)."""
        x = self.laptop(x)
        y = self.partner(x, y)
        if self.force_conflict(x, y, which, name, choice) or frozenset((x, y)) in self.blocked:
            return
        if not self.held(x):
            self.register_on(x, choice)
        self.run(self.sync_pair(x, y))
        self.force_conflict(x, y, which, name, choice)

    def force_conflict(self, x: int, y: int, which: int, name: str, choice: int, patient: str | None = None) -> bool:
        shared = [p for p in self.held(x) if p in self.held(y) and self.base(x, p, name) == self.base(y, p, name)]
        if not shared:
            return False
        patient = patient or shared[which % len(shared)]
        first = other_value(name, choice, [self.current(x, patient).get(name)])
        second = other_value(name, choice + 1, [self.current(y, patient).get(name), first])
        base = self.base(x, patient, name)
        writes = []
        for z, value in ((x, first), (y, second)):
            if self.write(z, lambda clinic, value=value: clinic.edit(patient, {name: value})) is REFUSED:
                return False  # a patient this laptop shows only in part (its creation held back)
            writes.append((self.laptops[z].device, self.laptops[z].store.version_vector()[self.laptops[z].device]))
        self.forced.append(Forced(patient, name, base, (first, second), tuple(writes)))
        return True

    @rule(x=laptop_, which=pick_)
    def encounter(self, x: int, which: int) -> None:
        x = self.laptop(x)
        held = self.held(x)
        if held:
            patient = held[which % len(held)]
            self.write(x, lambda clinic: clinic.record_encounter({"patient_id": patient, "kind": "visit", "vitals": {
                "pulse": 60 + which, "resp_rate": 12 + which % 10, "temperature_c": 37.0}}))

    @rule(x=laptop_, which=pick_)
    def void(self, x: int, which: int) -> None:
        x = self.laptop(x)
        held = self.held(x)
        if held:
            self.write(x, lambda clinic: clinic.void(held[which % len(held)], "registered twice"))

    @rule(x=laptop_, y=laptop_)
    def sync(self, x: int, y: int) -> None:
        x = self.laptop(x)
        y = self.partner(x, y)
        if frozenset((x, y)) not in self.blocked:
            self.run(self.sync_pair(x, y))

    @rule(x=laptop_)
    def with_hub(self, x: int) -> None:
        x = self.laptop(x)
        if frozenset((x, HUB)) not in self.blocked:
            self.run(self.hub_round(x))

    @rule(groups=st.lists(st.integers(0, 2), min_size=MOST + 1, max_size=MOST + 1))
    def partition(self, groups: list[int]) -> None:
        """Nodes (laptops, and the hub as node MOST) in up to three groups that cannot reach each other."""
        self.blocked = {frozenset((a, b)) for a in range(MOST + 1) for b in range(a) if groups[a] != groups[b]}

    @rule()
    def heal(self) -> None:
        self.blocked = set()

    @rule(x=laptop_, to=st.integers(0, MOST), limit=st.integers(1, 3), skip=st.integers(0, 2), twice=st.booleans())
    def deliver(self, x: int, to: int, limit: int, skip: int, twice: bool) -> None:
        """Batches from x reach a laptop or the hub out of order: first what lies `skip` entries past
        the receiver's head of each chain (what a relay got before the entries it follows reach the
        receiver), refused; then the batches in order; with `twice`, everything once more."""
        x = self.laptop(x)
        target = HUB if to == MOST else self.partner(x, to)
        if frozenset((x, target)) in self.blocked or self.refuses(x, target):
            return
        holder = self.hub.storage if target == HUB else self.laptops[target].store
        vector = holder.version_vector()
        early = batches(self.laptops[x], vector, limit)
        # Past `skip` entries of each chain the receiver holds part of (a chain it holds none of comes
        # whole, or is refused for want of the certificate that rides with its first entries).
        late = batches(self.laptops[x], {o: seq + skip for o, seq in vector.items() if seq}, limit) if skip else []
        self.in_flight = (self.in_flight + [(x, batch) for batch in early + late])[-12:]
        for batch in late + early + (early + late if twice else []):
            self.run(self.deliver_one(x, target, batch))

    @rule(which=pick_, to=st.integers(0, MOST))
    def replay(self, which: int, to: int) -> None:
        """A batch sent in an earlier step arrives again, late: held already, or ahead of a gap, or new."""
        if not self.in_flight:
            return
        x, batch = self.in_flight[which % len(self.in_flight)]
        target = HUB if to == MOST else self.partner(x, to)
        if frozenset((x, target)) not in self.blocked and not self.refuses(x, target):
            self.run(self.deliver_one(x, target, batch))

    async def deliver_one(self, x: int, target: int, batch: Any) -> None:
        holder = self.hub.storage if target == HUB else self.laptops[target].store
        before = await asyncio.to_thread(holder.version_vector)
        gap = leaves_gap(batch, before)
        try:
            if target == HUB:
                async with HubClient(self.hub.url, self.laptops[x].member, attempts=1) as client:
                    ack = await client.post("/v1/batch", on_the_wire(batch), (messages.Ack,))
                after = await asyncio.to_thread(holder.version_vector)
                assert ack.vector == {o: after[o] for o in {e.origin for e in batch.entries}}
            else:
                result = await receive(self.laptops[target], batch)
                assert result.applied + result.already_held == len(batch.entries)
                after = await asyncio.to_thread(holder.version_vector)
        except FieldkitError as exc:
            # Entries that would follow ones the receiver lacks: refused whole (a gap in the chain,
            # or an origin whose certificate rides with its first batch, not yet delivered).
            assert gap, f"a batch that follows what the receiver holds was refused: {exc}"
            assert "skip from" in str(exc) or "not enrolled" in str(exc), exc
            self.figures.gaps += 1
            assert await asyncio.to_thread(holder.version_vector) == before
            return
        assert not gap, "a batch was applied over a gap in its chain"
        tops = {c.origin: c.seq for c in batch.checkpoints}
        assert after == before | {o: max(s, before.get(o, 0)) for o, s in tops.items()}
        if after == before:
            self.figures.duplicates += 1

    @rule(x=laptop_, y=laptop_, server_side=st.booleans())
    def kill(self, x: int, y: int, server_side: bool) -> None:
        """A session cut at its first batch; then one side's store closed and opened again."""
        x = self.laptop(x)
        y = self.partner(x, y)
        if frozenset((x, y)) not in self.blocked and not self.refuses(x, y):
            mine, _ = self.run(meet(self.laptops[x], self.servers[y], cut=True))
            self.figures.cut += mine == "cut"
        self.run(self.restart(y if server_side else x))
        self.figures.kills += 1

    async def restart(self, x: int) -> None:
        await self.serving[x].aclose()
        laptop = self.laptops[x]
        await asyncio.to_thread(reopen, laptop)
        self.set_clock(x)
        verified(laptop.store)
        self.serving[x] = AsyncExitStack()
        self.servers[x] = await self.serving[x].enter_async_context(serving(laptop))

    @rule(x=laptop_, hours=st.sampled_from([-240, -49, -3, 3, 49, 240]))
    def bump_clock(self, x: int, hours: int) -> None:
        """The laptop's wall clock jumps by hours or days (an RTC reset, a wrong date typed in)."""
        x = self.laptop(x)
        self.offsets[x] = self.offsets.get(x, 0) + hours * 3_600_000
        self.ahead[x] = max(self.ahead.get(x, 0), self.offsets[x])
        self.set_clock(x)
        self.figures.clock_bumps += 1

    def set_clock(self, x: int) -> None:
        # The store's HLC reads its wall clock through the callable it was made with; a new clock
        # from the last stamp keeps the HLC's own rule (never backwards), only the wall moves.
        if offset := self.offsets.get(x, 0):
            store = self.laptops[x].store
            store.clock = HybridClock(store.clock.last, wall=lambda: wall_ms() + offset)

    @rule(x=laptop_)
    def revoke(self, x: int) -> None:
        """The supervisor's laptop (laptop0, holding the network key) revokes another, once a run."""
        if self.revoked is not None:
            return
        r = 1 + x % (len(self.laptops) - 1)
        base = self.laptops[0]
        entry = self.write(0, lambda clinic: membership.revoke(base.store, base.member, self.laptops[r].device,
                                                               user=base.user.id, reason="lost"))
        self.revoked, self.cutoff = r, entry.payload["cutoff"]

    @precondition(lambda self: self.revoked is not None)
    @rule(y=laptop_, choice=pick_, to_hub=st.booleans())
    def revoked_laptop_goes_on(self, y: int, choice: int, to_hub: bool) -> None:
        """Whoever holds the revoked laptop registers a patient and meets a laptop, or the hub, that
        may not have heard of the revocation yet: what it takes must reach everyone, held back."""
        r = self.revoked
        assert r is not None
        self.register_on(r, choice)
        other = HUB if to_hub else self.partner(r, y)
        if frozenset((r, other)) not in self.blocked:
            self.run(self.hub_round(r) if to_hub else self.sync_pair(r, other))

    # -- after every step ----------------------------------------------------------------------------

    @invariant()
    def nothing_lost_or_invented(self) -> None:
        self.figures.steps += 1
        tops: dict[str, int] = {}
        for origin, seq in self.saved:
            tops[origin] = max(seq, tops.get(origin, 0))
        for laptop in self.laptops:
            vector = laptop.store.version_vector()
            assert vector[laptop.device] == tops[laptop.device], f"{laptop.name} lost its own saves"
            assert all(seq <= tops.get(origin, 0) for origin, seq in vector.items()), "an entry nobody wrote"

    @invariant()
    def no_clock_dragged_ahead(self) -> None:
        """A laptop's clock runs ahead of true time only as far as its own wall clock ever did: stamps
        received from a laptop days ahead are kept on their entries but do not drag it (T16)."""
        for x, laptop in enumerate(self.laptops):
            lead = millis(laptop.store.clock.last) - wall_ms() - self.ahead.get(x, 0)
            assert lead <= MAX_DRIFT_MS, f"{laptop.name}'s clock runs {lead / 3_600_000:.1f} h ahead"

    @invariant()
    def revoked_laptops_later_entries_never_folded(self) -> None:
        """On every laptop that holds the revocation, at every step, not only after the heal."""
        if self.revoked is None:
            return
        device = self.laptops[self.revoked].device
        for laptop in self.laptops:
            held, later, knows = laptop.store.read(lambda conn: (
                set(conn.execute("SELECT origin, seq FROM held")),
                set(conn.execute("SELECT origin, seq FROM journal WHERE origin = ? AND seq > ?", (device, self.cutoff))),
                conn.execute("SELECT 1 FROM revocations WHERE device_id = ?", (device,)).fetchone() is not None))
            assert held == (later if knows else set()), f"{laptop.name} folds what the revoked laptop wrote later"

    # -- the end of a run: heal, then compare --------------------------------------------------------

    def teardown(self) -> None:
        try:
            if self.laptops and sys.exc_info()[0] is None:  # a failed step is reported as it failed
                self.run(self.heal_everything())
                self.check_converged()
        finally:
            self.run(together(*(stack.aclose() for stack in self.serving), self.stack.aclose()))
            self.run(together(*(asyncio.to_thread(laptop.store.close) for laptop in self.laptops)))
            self.loop.close()
            if self.root:
                shutil.rmtree(self.root, ignore_errors=True)

    async def heal_everything(self) -> None:
        self.blocked = set()
        active = [x for x in range(len(self.laptops)) if x != self.revoked]
        if not any(self.conflict_expected(forced) for forced in self.forced):
            x, y = active[0], active[1]  # every run checks at least one conflict
            patient = self.register_on(x, 0)
            await self.sync_pair(x, y)
            assert self.force_conflict(x, y, 0, "birth_date", 0, patient)
        # Around the ring, the last laptop met brings the first everything the laptops hold; then
        # each with the hub, the first bringing it all that and each after taking the hub's all.
        for _ in range(3):
            for i, x in enumerate(active):
                await self.sync_pair(x, active[(i + 1) % len(active)])
            for x in active:
                await self.hub_round(x)
            hub = await asyncio.to_thread(self.hub.storage.version_vector)
            if all(self.laptops[x].store.version_vector() == hub for x in active):
                break
        else:
            raise AssertionError("three rounds with everyone did not bring every laptop to the hub's vector")
        if self.revoked is not None:  # every laptop and the hub now hold its revocation: all refuse it
            for x in active:
                await self.sync_pair(self.revoked, x)
            await self.hub_round(self.revoked)

    def conflict_expected(self, forced: Forced) -> bool:
        return self.revoked is None or not any(
            origin == self.laptops[self.revoked].device and seq > self.cutoff for origin, seq in forced.writes)

    def check_converged(self) -> None:
        active = [self.laptops[x] for x in range(len(self.laptops)) if x != self.revoked]
        first = active[0]
        state, entries = digest(first)
        for laptop in active[1:]:
            assert digest(laptop) == (state, entries), f"{laptop.name} and {first.name} differ after the heal"
        stored = self.hub.storage.outgoing({}, 10**6).entries
        assert {(e.origin, e.seq, e.hash) for e in stored} == entries, "the hub holds another journal"

        revoked = self.laptops[self.revoked].device if self.revoked is not None else None
        lost = [(origin, seq) for (origin, seq), hash_ in self.saved.items()
                if (origin, seq, hash_) not in entries and not (origin == revoked and seq > self.cutoff)]
        assert not lost, f"saved and lost: {lost}"
        journal = first.store.read(lambda conn: [Entry(*row) for row in conn.execute("SELECT * FROM journal")])
        want: Expected = expected(journal)
        check_fold(first, want)  # the others have the same state hash, so the same tables

        for forced in self.forced:
            conflict_id = conflict_key(forced.patient, forced.name, forced.base)
            if not self.conflict_expected(forced):
                continue
            for laptop in active:
                row = conflict_rows(laptop).get(conflict_id)
                assert row, f"{laptop.name}: a concurrent edit of {forced.name} left no conflict"
                *_, safety, candidates = row
                # Kept with both values whoever won the fold; a safety field's waits for a supervisor.
                assert safety == int(forced.name in SAFETY_FIELDS), (forced.name, safety)
                assert {canonical(v) for v in forced.values} <= {canonical(c["value"]) for c in parse(candidates)}
            self.figures.conflicts += 1
            self.figures.safety += forced.name in SAFETY_FIELDS

        for laptop in self.laptops:  # the revoked one too: its chain is its own
            verified(laptop.store)
        before = first.store.state_hash()
        assert first.store.rebuild().after == before  # the fold from scratch, in another order, agrees
        self.figures.held += len(want.held)
        self.figures.checked += len(want.conflicts)
        self.figures.revoked += self.revoked is not None
        self.figures.runs += 1


# The PR tier draws the same steps every time (a failure there comes from a change in the code, not
# from luck); the deep tier explores new ones. A failure prints its shrunk steps and a blob to replay.
SETTINGS = settings(max_examples=RUNS, stateful_step_count=STEPS, deadline=None, print_blob=True, derandomize=not DEEP)


async def met(laptops: list[Laptop]) -> None:
    """Around the ring twice: each laptop holds all the others hold, certificates included."""
    for _ in range(2):
        for x, laptop in enumerate(laptops):
            await sync(laptop, laptops[(x + 1) % len(laptops)])


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The laptops met at base, then each registered patients nobody else has seen yet: every run
    starts with chains that each laptop holds part of, the ground that batches delivered out of
    order, relays and a revocation's cut-off need."""
    root = tmp_path_factory.mktemp("partitions")
    pool = network(root / "pool", MOST)
    asyncio.run(met(pool))
    patients = [laptop.clinic.register({"given_name": f"Morning {n}", "family_name": "Tran", "sex": "female",
                                        "birth_date": "1980-02-02"}).patient_id
                for laptop in pool for n in range(MORNING)]
    enrol_hub(root / "pool" / "hub", pool[0])
    for laptop in pool:
        laptop.store.close()  # closed: each run copies the files and opens its own
    return World(pool, root / "pool" / "hub", root, patients)


def test_partitions_crashes_and_duplicates_lose_nothing_and_converge(world, tmp_path_factory):
    run_state_machine_as_test(lambda: Partitions(world), settings=SETTINGS)
    figures = world.figures
    assert figures.runs >= RUNS  # each run that passed was healed and compared, none skipped
    record(tmp_path_factory, THREAT, runs=figures.runs,
           laptops=f"3-{MOST}", lost=0, steps=figures.steps, sessions=figures.sessions, stores_killed=figures.kills,
           cut_sessions=figures.cut, duplicates=figures.duplicates, gaps_refused=figures.gaps,
           conflicts_preserved=figures.conflicts, of_safety_fields=figures.safety, conflicts_checked=figures.checked,
           clock_bumps=figures.clock_bumps, revocations=figures.revoked, held=figures.held, refused=figures.refused)
