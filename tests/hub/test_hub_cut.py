"""An upload to the hub cut mid-way (the laptop's process killed, the link dropped going up or
coming back) and resumed: nothing lost, nothing duplicated, at most one batch sent twice.

Real components throughout: the hub on loopback TLS with its real storage (SQLite or PostgreSQL),
real laptop stores, `fieldkit hub push` as a process of its own. The cuts are placed by what has
happened (how many batches the hub has stored, how many bytes have gone up since), never by sleeps:
a TCP relay between laptop and hub drops the link, and a storage that counts what it was offered
kills the laptop's process or arms the relay at the right moment.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from hub_support import HUB_KEY, database, enrol_hub, open_storage, running_hub
from sync_support import PASSPHRASE, Laptop, journal, network

from fieldkit.hub.app import Hub
from fieldkit.hub.storage import PostgresStorage, SqliteStorage
from fieldkit.records.demo import people, person_changes
from fieldkit.store.db import Store
from fieldkit.store.journal import COLUMNS, parse
from fieldkit.store.keystore import Keystore
from fieldkit.sync.forwarder import HubClient, HubUnreachable, push

BACKENDS = ["sqlite", "postgresql"]
ENTRIES = 1000  # with the supervisor's own user entry, 1001: batches of 100, 200, 400, 301 on a fast link
CUT_IN = 3  # the batch the cut falls in: two acknowledged before it, more to send after it


# -- a hub whose storage counts what it is offered -------------------------------------------------

@dataclass
class Offer:
    offered: int  # entries in the batch
    applied: int  # of them stored now
    held: int  # of them already held: sent before
    vector: dict[str, int]  # the ack


class Counting:
    """The hub's real storage, noting each batch it is given; `after_ingest(storage)` runs once
    the batch is committed, before the hub answers (in the hub's worker thread)."""

    def _start_counting(self) -> None:
        self.offers: list[Offer] = []
        self.after_ingest: Callable[["Counting"], None] | None = None

    def ingest(self, entries, checkpoints, certificates):
        stored = super().ingest(entries, checkpoints, certificates)
        self.offers.append(Offer(len(entries), stored.applied, stored.already_held, dict(stored.heads)))
        if self.after_ingest is not None:
            self.after_ingest(self)
        return stored

    def sent_twice(self) -> int:
        return sum(o.offered for o in self.offers) - sum(o.applied for o in self.offers)

    def largest_batch(self) -> int:
        return max(o.offered for o in self.offers)


class CountingSqlite(Counting, SqliteStorage):
    def __init__(self, url: str) -> None:
        super().__init__(Path(url.removeprefix("sqlite:///")), HUB_KEY)
        self._start_counting()


class CountingPostgres(Counting, PostgresStorage):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._start_counting()


def counted_hub(data: Path, url: str):
    storage = CountingPostgres(url) if url.startswith("postgresql://") else CountingSqlite(url)
    return running_hub(data, url, storage)


def hub_rows(url: str) -> list[tuple]:
    """Every row of the hub's journal table, read past the storage class (its count sums heads)."""
    query = f"SELECT {', '.join(COLUMNS)} FROM hub_journal"
    if url.startswith("postgresql://"):
        with psycopg.connect(url) as conn:
            return [tuple(row) for row in conn.execute(query).fetchall()]
    storage = open_storage(url)
    try:
        return [tuple(row) for row in storage._conn.execute(query).fetchall()]
    finally:
        storage.close()


# -- a link that drops -----------------------------------------------------------------------------

class Relay:
    """A TCP relay on loopback between laptop and hub, counting the bytes each way. It drops the
    link once: abruptly, both sides, when `cut_at_up` bytes have gone up (forwarding at most that
    many) or when `cut_down()` says so as the hub's reply comes back (forwarding none of it). Then
    it refuses the next `refuse` connections (accepts and aborts them), `math.inf` for a link
    that stays down until `heal()`."""

    def __init__(self, target_port: int, *, refuse: float = 0) -> None:
        self.target_port, self.refuse = target_port, refuse
        self.up = self.down = 0
        self.cut_at_up: int | None = None
        self.cut_down: Callable[[], bool] | None = None
        self.on_cut: Callable[[], None] | None = None
        self.cuts = self.connections = self.refused = 0
        self._refusing = 0.0
        self._links: set[asyncio.Transport] = set()

    async def __aenter__(self) -> "Relay":
        self.server = await asyncio.start_server(self._pipe, "127.0.0.1", 0)
        self.url = f"https://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc) -> None:
        self.server.close()
        for transport in list(self._links):
            transport.abort()
        await self.server.wait_closed()

    def heal(self) -> None:
        self._refusing = 0

    def _cut(self) -> None:
        self.cuts += 1
        self._refusing = self.refuse
        if self.on_cut is not None:
            self.on_cut()
        for transport in list(self._links):
            transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._refusing > 0:
            self._refusing -= 1
            self.refused += 1
            writer.transport.abort()
            return
        self.connections += 1
        target_reader, target_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._links |= {writer.transport, target_writer.transport}

        async def copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter, up: bool) -> None:
            while data := await source.read(65536):
                if up:
                    if not self.cuts and self.cut_at_up is not None and self.up + len(data) >= self.cut_at_up:
                        sink.write(data[:self.cut_at_up - self.up])
                        self.up = self.cut_at_up
                        self._cut()
                        return
                    self.up += len(data)
                else:
                    self.down += len(data)
                    if not self.cuts and self.cut_down is not None and self.cut_down():
                        self._cut()
                        return
                sink.write(data)
                await sink.drain()
            sink.close()

        try:
            await asyncio.gather(copy(reader, target_writer, True), copy(target_reader, writer, False),
                                 return_exceptions=True)
        finally:
            self._links -= {writer.transport, target_writer.transport}
            writer.transport.abort()
            target_writer.transport.abort()


def cut_mid_request(relay: Relay, storage: Counting, batch: int) -> None:
    """Drop the link part-way up batch number `batch`. Once the batch before it is stored, the next
    bytes going up are this batch's request (the laptop waits for the ack before sending it), and
    it is about as long as the one before it or longer (it halves only on a batch over 4 s), so a
    quarter of that length in, its headers are through and most of its body is not."""
    ends: list[int] = []

    def stored(storage: Counting) -> None:
        ends.append(relay.up)  # the whole request is up once the hub has it
        if len(ends) == batch - 1:
            relay.cut_at_up = ends[-1] + (ends[-1] - ends[-2]) // 4

    storage.after_ingest = stored


def cut_reply(relay: Relay, storage: Counting, batch: int) -> None:
    """Drop the link as the hub's ack of batch number `batch` comes back: stored, not acknowledged."""
    relay.cut_down = lambda: len(storage.offers) >= batch


# -- laptops ---------------------------------------------------------------------------------------

async def laptop_with_entries(tmp_path: Path) -> Laptop:
    [laptop] = await asyncio.to_thread(network, tmp_path, 1)
    changes = [c for person in people(ENTRIES // 2, seed=11) for c in person_changes(person)][:ENTRIES]
    await asyncio.to_thread(laptop.store.append, changes, user=laptop.user.id)
    return laptop


def reopened(laptop: Laptop) -> Laptop:
    _user, key = Keystore(laptop.home.keystore).unlock(laptop.user.name, PASSPHRASE)
    laptop.store = Store(laptop.home.database, key)
    return laptop


def remembered(laptop: Laptop) -> dict[str, int]:
    return parse(laptop.store.get_meta("hub_vector", "{}"))


def claims_no_more_than_held(laptop: Laptop, storage: Counting) -> dict[str, int]:
    """The hub vector the laptop remembers never claims an entry the hub does not hold."""
    claimed, held = remembered(laptop), storage.version_vector()
    assert all(seq <= held.get(origin, 0) for origin, seq in claimed.items()), (claimed, held)
    return claimed


def checking_each_ack(laptop: Laptop, storage: Counting, acks: list[int]) -> Callable:
    def progress(report) -> None:
        acks.append(report.sent)
        claims_no_more_than_held(laptop, storage)
    return progress


async def everything_once(laptop: Laptop, hub: Hub, url: str) -> int:
    """The hub holds each of the laptop's entries exactly once; returns how many that is."""
    mine = await asyncio.to_thread(journal, laptop)
    rows = await asyncio.to_thread(hub_rows, url)
    assert len(rows) == len(set(rows)) == len(mine)  # none twice
    assert set(rows) == mine  # none lost, none altered
    assert await asyncio.to_thread(hub.storage.count) == len(mine)
    assert await asyncio.to_thread(hub.storage.version_vector) == await asyncio.to_thread(laptop.store.version_vector)
    return len(mine)


# -- the laptop's process killed -------------------------------------------------------------------

def hub_push(laptop: Laptop, url: str, log: Path) -> subprocess.Popen:
    """`fieldkit hub push` on the laptop, as its user types it."""
    env = {**os.environ, "FIELDKIT_HOME": str(laptop.home.path), "FIELDKIT_PASSPHRASE": PASSPHRASE,
           "FIELDKIT_USER": laptop.user.name}
    env.pop("FIELDKIT_DEBUG", None)
    with open(log, "w") as err:
        return subprocess.Popen([sys.executable, "-m", "fieldkit", "hub", "push", "--url", url], env=env,
                                stdout=subprocess.DEVNULL, stderr=err)


@pytest.mark.parametrize("kind", BACKENDS)
@pytest.mark.parametrize("point", ["mid-request", "ack-lost"])
async def test_the_laptops_push_process_killed_mid_upload_resumes_without_loss_or_repeats(tmp_path, kind, point):
    laptop = await laptop_with_entries(tmp_path)
    total = len(await asyncio.to_thread(journal, laptop))
    vector = await asyncio.to_thread(laptop.store.version_vector)
    await asyncio.to_thread(laptop.store.close)  # the process opens it
    enrol_hub(tmp_path / "hub", laptop)
    with database(kind, tmp_path / "hub") as url:
        async with counted_hub(tmp_path / "hub", url) as hub, Relay(hub.port) as relay:
            storage = hub.storage
            if point == "mid-request":  # SIGKILL with batch 3 part-way up: the hub never gets it whole
                cut_mid_request(relay, storage, CUT_IN)
                relay.on_cut = lambda: pushing.kill()
            else:  # SIGKILL once the hub has stored batch 3, before its ack leaves the hub
                def kill_after(storage: Counting) -> None:
                    if len(storage.offers) == CUT_IN:
                        pushing.kill()
                storage.after_ingest = kill_after
            pushing = hub_push(laptop, relay.url, tmp_path / "push.err")
            try:
                returncode = await asyncio.to_thread(pushing.wait, 60)
            finally:
                pushing.kill()
                pushing.wait()
            progress = (tmp_path / "push.err").read_text()
            assert returncode == -signal.SIGKILL, progress  # killed mid-upload, not finished
            assert progress.count("still to send") == CUT_IN - 1, progress  # it had seen two acks

            # The laptop's store is intact, and remembers no more than the hub's last ack it saw.
            await asyncio.to_thread(reopened, laptop)
            assert len(await asyncio.to_thread(journal, laptop)) == total
            assert await asyncio.to_thread(laptop.store.version_vector) == vector
            assert (await asyncio.to_thread(laptop.store.verify_audit)).ok
            claimed = await asyncio.to_thread(claims_no_more_than_held, laptop, storage)
            assert claimed == storage.offers[CUT_IN - 2].vector

            before = await asyncio.to_thread(storage.count)
            acknowledged = sum(o.applied for o in storage.offers[:CUT_IN - 1])
            if point == "mid-request":
                assert len(storage.offers) == CUT_IN - 1 and before == acknowledged
            else:
                assert len(storage.offers) == CUT_IN and before == acknowledged + storage.offers[-1].applied
            assert 0 < before < total

            resumed = await push(laptop.store, laptop.member, hub.url)
            assert await everything_once(laptop, hub, url) == total
            # The resumed push starts from the hub's vector at hello: exactly what it lacks, not
            # what the laptop's last ack said (the batch stored without an ack is not sent again).
            assert resumed.sent == total - before and resumed.pending == 0
            assert storage.sent_twice() == 0 and sum(o.offered for o in storage.offers) == total
            assert storage.sent_twice() <= storage.largest_batch()
            assert remembered(laptop) == vector
    await asyncio.to_thread(laptop.store.close)


# -- the link dropped ------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", BACKENDS)
@pytest.mark.parametrize("direction", ["up", "down"])
async def test_a_link_dropped_mid_upload_is_carried_through_by_the_forwarders_retry(tmp_path, kind, direction):
    laptop = await laptop_with_entries(tmp_path)
    total = len(await asyncio.to_thread(journal, laptop))
    enrol_hub(tmp_path / "hub", laptop)
    with database(kind, tmp_path / "hub") as url:
        # After the cut the link refuses one connection, then comes back.
        async with counted_hub(tmp_path / "hub", url) as hub, Relay(hub.port, refuse=1) as relay:
            storage = hub.storage
            (cut_mid_request if direction == "up" else cut_reply)(relay, storage, CUT_IN)
            acks: list[int] = []
            report = await push(laptop.store, laptop.member, relay.url, first_batch=100,
                                progress=checking_each_ack(laptop, storage, acks),
                                client=HubClient(relay.url, laptop.member, attempts=4))
            assert relay.cuts == 1 and relay.refused == 1 and relay.connections == 2
            assert report.batches >= CUT_IN + 1 and report.sent == total and report.pending == 0
            assert await everything_once(laptop, hub, url) == total
            cut = storage.offers[CUT_IN - 1]
            if direction == "up":  # the batch never reached the hub whole; the retry stored it
                assert storage.sent_twice() == 0 and cut.applied == cut.offered
            else:  # stored, its ack lost; the retry re-sent it and it was held, not stored again
                retry = storage.offers[CUT_IN]
                assert cut.applied == cut.offered > 0
                assert (retry.offered, retry.applied, retry.held) == (cut.offered, 0, cut.offered)
                assert storage.sent_twice() == cut.offered
            assert storage.sent_twice() <= storage.largest_batch()
            assert remembered(laptop) == await asyncio.to_thread(storage.version_vector)


@pytest.mark.parametrize("kind", BACKENDS)
@pytest.mark.parametrize("direction", ["up", "down"])
async def test_a_link_that_stays_down_gives_up_and_the_next_push_resumes_where_the_hub_is(tmp_path, kind,
                                                                                          direction):
    laptop = await laptop_with_entries(tmp_path)
    total = len(await asyncio.to_thread(journal, laptop))
    enrol_hub(tmp_path / "hub", laptop)
    with database(kind, tmp_path / "hub") as url:
        async with counted_hub(tmp_path / "hub", url) as hub, Relay(hub.port, refuse=math.inf) as relay:
            storage = hub.storage
            (cut_mid_request if direction == "up" else cut_reply)(relay, storage, CUT_IN)
            acks: list[int] = []
            with pytest.raises(HubUnreachable):
                await push(laptop.store, laptop.member, relay.url, first_batch=100,
                           progress=checking_each_ack(laptop, storage, acks),
                           client=HubClient(relay.url, laptop.member, attempts=2))
            assert relay.cuts == 1 and relay.refused == 1 and len(acks) == CUT_IN - 1
            claimed = await asyncio.to_thread(claims_no_more_than_held, laptop, storage)
            assert claimed == storage.offers[CUT_IN - 2].vector  # the last ack it saw
            before = await asyncio.to_thread(storage.count)
            assert before == acks[-1] + (storage.offers[-1].applied if direction == "down" else 0)
            assert len(storage.offers) == (CUT_IN if direction == "down" else CUT_IN - 1)

            relay.heal()
            resumed = await push(laptop.store, laptop.member, relay.url, first_batch=100,
                                 progress=checking_each_ack(laptop, storage, acks))
            assert relay.cuts == 1 and relay.refused == 1
            assert await everything_once(laptop, hub, url) == total
            assert resumed.sent == total - before and resumed.pending == 0  # from the hub's vector
            assert storage.sent_twice() == 0 and sum(o.offered for o in storage.offers) == total
            assert storage.sent_twice() <= storage.largest_batch()
            assert remembered(laptop) == await asyncio.to_thread(storage.version_vector)
