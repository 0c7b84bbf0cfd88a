"""A sync killed with SIGKILL at a random point, on either side, then run again: nothing lost,
nothing duplicated, at most one batch sent twice. Real `fieldkit` processes, real TLS."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys

import pytest
from sync_support import PASSPHRASE, Laptop, enrol, journal, new_laptop

from fieldkit.errors import FieldkitError
from fieldkit.records.demo import people, person_changes
from fieldkit.store.db import Store
from fieldkit.store.keystore import Keystore
from fieldkit.sync import membership
from fieldkit.sync.peer import Server, sync_with
from fieldkit.sync.session import MAX_BATCH

ENTRIES = 15_000  # several batches: 500, 1000, 2000, 4000, then 5000s; about two seconds


def fieldkit(laptop: Laptop, *args: str) -> subprocess.Popen:
    env = {**os.environ, "FIELDKIT_HOME": str(laptop.home.path), "FIELDKIT_PASSPHRASE": PASSPHRASE,
           "FIELDKIT_USER": laptop.user.name}
    return subprocess.Popen([sys.executable, "-m", "fieldkit", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def opened(laptop: Laptop) -> Laptop:
    _user, key = Keystore(laptop.home.keystore).unlock(laptop.user.name, PASSPHRASE)
    laptop.store = Store(laptop.home.database, key)
    return laptop


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A supervisor's laptop holding ENTRIES entries, closed so that a process can open it."""
    laptop = new_laptop(tmp_path_factory.mktemp("source"), "base")
    laptop.member = membership.create(laptop.store, "Soc Trang mobile clinics")
    changes = [c for person in people(ENTRIES // 3, seed=5) for c in person_changes(person)][:ENTRIES]
    for i in range(0, len(changes), 2000):
        laptop.store.append(changes[i:i + 2000], user=laptop.user.id)
    laptop.store.close()
    return laptop


@pytest.fixture
def peer(tmp_path, source):
    opened(source)
    laptop = enrol(new_laptop(tmp_path, "field"), source)
    source.store.close()
    yield laptop
    laptop.store.close()


def whole_batches_only(laptop: Laptop) -> int:
    """Every chain the laptop holds is a gapless prefix (whole committed batches, each entry once);
    returns how many entries it holds."""
    counts = laptop.store.read(lambda conn: dict(conn.execute("SELECT origin, count(*) FROM journal GROUP BY origin")))
    assert counts == laptop.store.version_vector()
    assert laptop.store.verify_audit().ok
    return sum(counts.values())


def same_journals(peer: Laptop, source: Laptop) -> None:
    opened(source)
    try:
        assert journal(peer) == journal(source)
        assert peer.store.state_hash() == source.store.state_hash()
    finally:
        source.store.close()


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_the_receiving_process_killed_mid_sync(peer, source, seed):
    await asyncio.to_thread(peer.store.close)
    await asyncio.to_thread(opened, source)
    try:
        async with Server(source.store, source.member, host="127.0.0.1") as server:
            client = fieldkit(peer, "sync", "now", f"127.0.0.1:{server.port}")
            await asyncio.sleep(random.Random(seed).uniform(0.5, 2.5))
            client.send_signal(signal.SIGKILL)
            client.wait()
            opened(peer)
            held = whole_batches_only(peer)
            report = await sync_with(peer.store, peer.member, "127.0.0.1", server.port)
    finally:
        await asyncio.to_thread(source.store.close)
    assert report.already_held <= MAX_BATCH  # at most the batch in flight is sent again
    assert whole_batches_only(peer) == held + report.received
    same_journals(peer, source)


@pytest.mark.parametrize("seed", [4, 5])
async def test_the_serving_process_killed_mid_sync(peer, source, seed):
    server, port = await serving(source)
    try:
        await asyncio.sleep(random.Random(seed).uniform(0.0, 0.5))
        session = asyncio.ensure_future(sync_with(peer.store, peer.member, "127.0.0.1", port, timeout=10))
        await asyncio.sleep(random.Random(seed).uniform(0.3, 2.0))
        server.send_signal(signal.SIGKILL)
        try:
            await session
        except FieldkitError:
            pass  # cut off, as intended; finishing before the kill is allowed too
    finally:
        server.kill()
        server.wait()
    held = whole_batches_only(peer)

    server, port = await serving(source)
    try:
        report = await sync_with(peer.store, peer.member, "127.0.0.1", port)
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0  # a clean stop on SIGTERM
    assert report.already_held <= MAX_BATCH
    assert whole_batches_only(peer) == held + report.received
    same_journals(peer, source)


async def serving(laptop: Laptop) -> tuple[subprocess.Popen, int]:
    """`fieldkit sync serve` on a port the system picks, and that port, read from what it prints."""
    env = {**os.environ, "FIELDKIT_HOME": str(laptop.home.path), "FIELDKIT_PASSPHRASE": PASSPHRASE,
           "FIELDKIT_USER": laptop.user.name}
    server = subprocess.Popen([sys.executable, "-m", "fieldkit", "sync", "serve", "--host", "127.0.0.1", "--port", "0"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = await asyncio.wait_for(asyncio.to_thread(server.stdout.readline), 60)
    assert "serving network" in line, line
    return server, int(line.strip().rsplit(":", 1)[1])
