"""A save on one laptop, visible on a connected peer (issue 14), beside the old poll in the same run.

    python bench/live.py                # 20 saves each way (about a minute and a half)
    python bench/live.py --saves 5      # quick

Why: the sync engine used to look for new entries on a 2 s poll (or when the saver called its
`poke()`). Now the store tells the engine after every commit (`Store.subscribe`), so a save
should reach a laptop already in sync within one session: target < 500 ms, with no poke.

What: two laptops in one network, each a real clinic (`create_clinic`: SQLCipher, key slots,
device keys; a cheap Argon2id, since unlocking is not measured here), each running
`fieldkit.sync.engine.Engine`, what `fieldkit sync serve` and the clinic screen run, on 127.0.0.1
with zeroconf discovery on loopback. Once they have found each other and synced, a patient is
registered on A (`Clinic.register`, in a thread, as the clinic screen's Desk does) at a random
moment, and timed from the start of the save until the patient's row is in B's `patients` table
(B's store tells this script of each commit; the row is then read back on B's reader). Repeated
`--saves` times with a random pause of 0.3-2.3 s in between (so a save lands anywhere in a tick).

  notified   A's engine as shipped: woken by A's commit, it calls B at once
  baseline   A's engine restarted with interval=2.0 and unsubscribed from A's commits
             (`engine._unsubscribe()` after start): it finds the save on its periodic 2 s tick,
             as the old engine did when nobody poked it

Also printed, as a by-product: how long the two engines took to discover each other (target < 5 s),
and how many sessions B's engine began itself during each measurement (none is needed: A calls B).
Both laptops and both engines share this one process, its GIL and its event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from run import load_note, percentile  # noqa: E402 - bench/ is not a package

LAN = ["127.0.0.1"]  # discovery on loopback only, as the clinic screen's sync test runs it
CHEAP_KDF = {"memory_kib": 1024, "iterations": 1, "lanes": 1}  # tests/sync_support.py's
PASSPHRASE = "correct horse battery"
OLD_INTERVAL = 2.0  # seconds: the old engine's poll
# Seconds between saves, random over a whole tick: the engine's tick restarts when a session ends,
# so a shorter pause would land every save at the same point of the tick and fix the baseline's wait.
PAUSE = (0.3, 0.3 + OLD_INTERVAL)


# -- two laptops in one network (as tests/sync_support.py builds them) --------------------------------

class Laptop:
    def __init__(self, root: Path, name: str) -> None:
        from fieldkit.store.home import Home
        from fieldkit.store.session import create_clinic
        from fieldkit.sync.identity import new_device_key

        key, device = new_device_key()
        self.store, self.user = create_clinic(Home(root / name), supervisor=f"{name}-lead", passphrase=PASSPHRASE,
                                              device_id=device, device_key=key, kdf=CHEAP_KDF)
        self.member = None

    @property
    def device(self) -> str:
        return self.store.device_id


def one_network(root: Path) -> tuple[Laptop, Laptop]:
    """A founds the network; B is enrolled by it, as `fieldkit network join` ends."""
    from fieldkit.sync import certs, membership
    from fieldkit.sync.identity import public_key

    a, b = Laptop(root, "a"), Laptop(root, "b")
    a.member = membership.create(a.store, "bench network")
    certificate = certs.enrol(a.member.network_key, a.member.network, public_key(membership.device_key(b.store)))
    b.member = membership.join(b.store, a.member.network, certificate)
    return a, b


# -- waiting and timing ------------------------------------------------------------------------------

async def until(condition, timeout: float = 30.0, step: float = 0.02) -> None:
    """Poll `condition` (a plain or async function) until it holds; fail after `timeout` seconds."""
    deadline = time.perf_counter() + timeout
    while True:
        held = condition()
        if asyncio.iscoroutine(held):
            held = await held
        if held:
            return
        if time.perf_counter() > deadline:
            raise TimeoutError(f"waited {timeout:.0f} s for {getattr(condition, '__name__', 'a condition')}")
        await asyncio.sleep(step)


async def in_sync(engine, peer: Laptop, here: Laptop) -> None:
    """`engine` has seen `peer` on the LAN and completed a session with it, and both hold the same."""
    def synced() -> bool:
        state = engine.peers.get(peer.device)
        return any(s.device_id == peer.device for s in engine.sightings()) and bool(state and state.last_sync)

    async def same() -> bool:
        return await here.store.aread(_state_hash) == await peer.store.aread(_state_hash)
    await until(synced)
    await until(same)


def _state_hash(conn) -> str:
    from fieldkit.store import fold

    return fold.state_hash(conn)


class Arrivals:
    """Wakes the measuring task whenever B's store commits (from B's writer thread, onto the loop),
    so the time a save appears on B is found without polling B in a tight loop."""

    def __init__(self, store) -> None:
        self.store, self.event = store, asyncio.Event()
        self.unsubscribe = store.subscribe(lambda commit: self.event.set(), loop=asyncio.get_running_loop())

    async def wait_for_patient(self, patient_id: str, timeout: float = 30.0) -> None:
        def held(conn) -> bool:
            return conn.execute("SELECT 1 FROM patients WHERE id = ?", (patient_id,)).fetchone() is not None

        deadline = time.perf_counter() + timeout
        while not await self.store.aread(held):
            if time.perf_counter() > deadline:
                raise TimeoutError(f"patient {patient_id} never reached the peer")
            self.event.clear()
            try:  # the notice, or a look every 100 ms in case one was missed
                await asyncio.wait_for(self.event.wait(), 0.1)
            except TimeoutError:
                pass


async def saves_seen(a: Laptop, arrivals: Arrivals, count: int, rng: random.Random) -> list[float]:
    """Seconds from the start of each save on A until B holds the patient."""
    from fieldkit.records.services import Clinic

    clinic, seconds = Clinic(a.store, a.user), []
    for i in range(count):
        await asyncio.sleep(rng.uniform(*PAUSE))
        started = time.perf_counter()
        saved = await asyncio.to_thread(clinic.register, {"given_name": f"Lan{i}", "family_name": "Vo", "sex": "female"})
        await arrivals.wait_for_patient(saved.patient_id)
        seconds.append(time.perf_counter() - started)
    return seconds


def counting_calls(engine):
    """Count the sessions an engine begins, per peer: its `_call` is what it awaits for each call.
    (Its history mixes those with the sessions it accepted.)"""
    engine.calls_to = {}
    call = engine._call

    async def counted(sighting):
        engine.calls_to[sighting.device_id] = engine.calls_to.get(sighting.device_id, 0) + 1
        return await call(sighting)
    engine._call = counted
    return engine


def calls_during(engine, peer: str, since: dict[str, int]) -> int:
    return engine.calls_to.get(peer, 0) - since.get(peer, 0)


# -- the measurement ---------------------------------------------------------------------------------

async def measure(root: Path, count: int) -> dict:
    from fieldkit.sync.engine import Engine

    a, b = await asyncio.to_thread(one_network, root)
    rng = random.Random(14)
    arrivals = Arrivals(b.store)
    result: dict = {}
    started = time.perf_counter()
    peer = counting_calls(Engine(b.store, b.member, host="127.0.0.1", interfaces=LAN))
    notified = Engine(a.store, a.member, host="127.0.0.1", interfaces=LAN)
    async with peer:
        async with notified:
            await until(lambda: notified.sightings() and peer.sightings())
            result["discovered_s"] = time.perf_counter() - started
            await in_sync(notified, b, a)
            before = peer.calls_to.copy()
            result["notified"] = await saves_seen(a, arrivals, count, rng)
            result["notified_echo"] = calls_during(peer, a.device, before)

        # The baseline: the same laptops, A's engine as it behaved before commit notices.
        polling = Engine(a.store, a.member, host="127.0.0.1", interfaces=LAN, interval=OLD_INTERVAL)
        async with polling:
            polling._unsubscribe()  # no longer told of commits: only its periodic tick remains
            await in_sync(polling, b, a)
            before = peer.calls_to.copy()
            result["polling"] = await saves_seen(a, arrivals, count, rng)
            result["polling_echo"] = calls_during(peer, a.device, before)
    arrivals.unsubscribe()
    for laptop in (a, b):
        await asyncio.to_thread(laptop.store.close)
    return result


def line(label: str, seconds: list[float], note: str) -> str:
    ms = [s * 1e3 for s in seconds]
    return (f"  {label:<44} p50 {percentile(ms, 50):6.0f} ms   p95 {percentile(ms, 95):6.0f} ms   "
            f"max {max(ms):6.0f} ms   ({len(ms)} saves)   {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=20, help="saves timed each way")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        result = asyncio.run(measure(Path(tmp), args.saves))
    print(f"\na save visible on a connected peer  ({os.cpu_count()} cores, Python {sys.version.split()[0]})")
    print(f"  {load_note(load)}")
    print("  two laptops (SQLCipher), two engines on 127.0.0.1 with zeroconf on loopback, in one process")
    print(f"  discovered each other in {result['discovered_s']:.2f} s (target < 5 s)\n")
    print(line("A's engine told of each commit (as shipped)", result["notified"], "(target < 500 ms, no poke)"))
    print(line(f"baseline: A's engine on a {OLD_INTERVAL:.0f} s tick, not told", result["polling"],
               "(the old engine when nobody poked it)"))
    print(f"  sessions B's engine began with A meanwhile (none needed): {result['notified_echo']} while A was told, "
          f"{result['polling_echo']} on the tick")


if __name__ == "__main__":
    main()
