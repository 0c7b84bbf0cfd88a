"""Sync benchmarks (issue 4), each figure beside a baseline measured in the same run.

    python bench/sync.py                    # 100,000 entries (about five minutes)
    python bench/sync.py --entries 20000    # quick

- first sync: an empty laptop receives N entries over real TLS on loopback from a laptop served by
  another process, each verified and folded; SQLCipher on both ends, then the same with plain
  SQLite (the same library, no key)
- ten differences: two laptops holding the same N entries plus 5 new ones each sync; bytes on the
  wire counted by a TCP relay between them (TLS included), beside an in-sync session's bytes

The live figures (two engines discovering each other, and a save visible on the peer, now without
the removed `Engine.poke()`) are in bench/live.py.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from run import build_changes  # noqa: E402 - bench/ is not a package

BATCH = 2000
FIRST_SYNCS = 3


def laptop(path: Path, key: bytes | None):
    """A laptop's store with its device key and a supervisor, as `fieldkit init` leaves it."""
    from fieldkit.store.db import Store
    from fieldkit.store.keystore import User
    from fieldkit.store.session import user_change
    from fieldkit.sync.identity import new_device_key

    device_key, device = new_device_key()
    store = Store(path, key, device_id=device)
    store.set_meta({"device_key": device_key.hex()})
    user = User(device[:16], f"lead-{device[:4]}", "supervisor")
    store.append([user_change(user)], user=user.id)  # she journals herself, as create_clinic does
    return store, user


def pair(tmp: Path, label: str, key: bytes | None):
    from fieldkit.sync import membership

    a, a_user = laptop(tmp / f"{label}-a.db", key)
    a_member = membership.create(a, "bench network")
    return (a, a_user, a_member), enrolled(tmp / f"{label}-b.db", key, a_member)


def enrolled(path: Path, key: bytes | None, supervisor):
    """A new laptop enrolled in the network of `supervisor` (a Membership holding its key)."""
    from fieldkit.sync import certs, membership
    from fieldkit.sync.identity import public_key

    store, user = laptop(path, key)
    certificate = certs.enrol(supervisor.network_key, supervisor.network, public_key(membership.device_key(store)))
    return store, user, membership.join(store, supervisor.network, certificate)


class Relay:
    """A TCP relay counting every byte each way: what the wire carries, TLS records included."""

    def __init__(self, target_port: int) -> None:
        self.target_port, self.up, self.down = target_port, 0, 0

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._pipe, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _pipe(self, reader, writer) -> None:
        target_reader, target_writer = await asyncio.open_connection("127.0.0.1", self.target_port)

        async def copy(source, sink, up: bool) -> None:
            while data := await source.read(65536):
                if up:
                    self.up += len(data)
                else:
                    self.down += len(data)
                sink.write(data)
                await sink.drain()
            sink.close()

        await asyncio.gather(copy(reader, target_writer, True), copy(target_reader, writer, False),
                             return_exceptions=True)

    def take(self) -> tuple[int, int]:
        counted, self.up, self.down = (self.up, self.down), 0, 0
        return counted

    async def stop(self) -> None:
        self.server.close()
        await self.server.wait_closed()


class ServingLaptop:
    """Laptop A's server in its own process, as on a second laptop: the two ends do not share a
    Python interpreter (its GIL) the way they would if both ran here."""

    def __init__(self, path: Path, key: bytes | None) -> None:
        self.path, self.key = path, key

    def __enter__(self) -> int:
        env = dict(os.environ, BENCH_KEY=self.key.hex() if self.key else "")
        self.process = subprocess.Popen([sys.executable, __file__, "--serve", str(self.path)], env=env,
                                        stdout=subprocess.PIPE, text=True)
        return int(self.process.stdout.readline())

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait()


def serve(path: str) -> None:
    from fieldkit.store.db import Store
    from fieldkit.sync import membership
    from fieldkit.sync.peer import Server

    key = bytes.fromhex(os.environ["BENCH_KEY"]) if os.environ["BENCH_KEY"] else None

    async def run() -> None:
        store = Store(Path(path), key)
        async with Server(store, membership.load(store), host="127.0.0.1") as server:
            print(server.port, flush=True)
            await asyncio.Event().wait()

    asyncio.run(run())


def sessions(a, b, key: bytes | None) -> dict:
    from fieldkit.records.demo import people, person_changes
    from fieldkit.store.db import Store
    from fieldkit.sync.peer import sync_with

    (a_store, a_user, a_member), (b_store, b_user, b_member) = a, b
    a_path = a_store.path
    a_store.close()
    result = {}

    async def through_relay(port: int, phases: int) -> list:
        relay = Relay(port)
        relay_port = await relay.start()
        out = []
        for _ in range(phases):
            report = await sync_with(b_store, b_member, "127.0.0.1", relay_port)
            out.append((report, sum(relay.take())))
        await relay.stop()
        return out

    async def first_sync(port: int, path: Path) -> float:
        store, _, member = enrolled(path, key, a_member)
        report = await sync_with(store, member, "127.0.0.1", port)
        store.close()
        return report.seconds

    with ServingLaptop(a_path, key) as port:
        (first, first_bytes), (_, in_sync_bytes) = asyncio.run(through_relay(port, 2))
    seconds = [first.seconds]
    result["first_sync_entries"] = first.received
    result["first_sync_wire_mb"] = first_bytes / 1e6
    result["in_sync_wire_bytes"] = in_sync_bytes

    extra = [c for person in people(10, seed=99) for c in person_changes(person)]
    a_store = Store(a_path, key)
    a_store.append(extra[:5], user=a_user.id)
    a_store.close()
    b_store.append(extra[5:10], user=b_user.id)
    with ServingLaptop(a_path, key) as port:
        [(report, diff_bytes)] = asyncio.run(through_relay(port, 1))
    result["diff_hello_bytes"] = report.hello_bytes
    result["diff_batches"] = (report.batches_sent, report.batches_received)
    result["diff_entries"] = report.sent + report.received
    result["diff_wire_bytes"] = diff_bytes
    result["diff_session_ms"] = report.seconds * 1e3
    a_store = Store(a_path, key)
    result["same_state"] = a_store.state_hash() == b_store.state_hash()
    a_store.close()
    b_store.close()

    # This machine's timings wander by a fifth from run to run: the median of three first syncs,
    # the others by new laptops (run last: each sends A its own first entry, which B would then lack).
    with ServingLaptop(a_path, key) as port:
        seconds += [asyncio.run(first_sync(port, a_path.with_name(f"{a_path.stem}-{i}.db")))
                    for i in range(FIRST_SYNCS - 1)]
    result["first_sync_s"] = statistics.median(seconds)
    result["first_sync_range"] = min(seconds), max(seconds)
    result["first_sync_per_s"] = first.received / result["first_sync_s"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--serve", help=argparse.SUPPRESS)  # the serving laptop's process
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve)
    patients = max(1, round(args.entries / 2.92))  # the demo journals about 2.9 entries per patient
    t = time.perf_counter()
    changes = build_changes(patients)[: args.entries]
    print(f"generated {len(changes)} changes in {time.perf_counter() - t:.1f} s", flush=True)
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        laptops = {}
        for label, key in (("sqlcipher", os.urandom(32)), ("plain", None)):
            a, b = pair(Path(tmp), label, key)
            for i in range(0, len(changes), BATCH):
                a[0].append(changes[i:i + BATCH], user=a[1].id)
            laptops[label] = a, b, key
        # The generated clinic is not part of a receiving laptop's heap: left alive, its million
        # objects make every garbage collection during the sync walk them.
        del changes
        gc.collect()
        rows = {label: sessions(*pair_and_key) for label, pair_and_key in laptops.items()}

    cipher, plain = rows["sqlcipher"], rows["plain"]
    print(f"\nfirst sync of {cipher['first_sync_entries']:,} entries over TLS on loopback (verify + fold):")
    for label, row in (("SQLCipher", cipher), ("plain", plain)):
        low, high = row["first_sync_range"]
        print(f"  {label:<10}  {row['first_sync_s']:6.2f} s  {row['first_sync_per_s']:9,.0f} entries/s   "
              f"median of {FIRST_SYNCS} ({low:.2f}-{high:.2f} s)   {row['first_sync_wire_mb']:.1f} MB on the wire")
    print(f"  target < 10 s, >= 10,000/s; baseline: SQLCipher costs "
          f"{plain['first_sync_per_s'] / cipher['first_sync_per_s']:.2f}x plain SQLite")
    print(f"\ntwo laptops of {cipher['first_sync_entries']:,} entries differing by {cipher['diff_entries']} (SQLCipher):")
    print(f"  hellos (the protocol's cost before entries): {cipher['diff_hello_bytes']} bytes, one round trip "
          "(target < 2 KB)")
    print(f"  batches sent/received: {cipher['diff_batches'][0]}/{cipher['diff_batches'][1]}; "
          f"session {cipher['diff_session_ms']:.0f} ms")
    print(f"  whole session on the wire, TLS handshake included: {cipher['diff_wire_bytes']:,} bytes; "
          f"baseline in-sync session: {cipher['in_sync_wire_bytes']:,} bytes "
          f"(so {cipher['diff_wire_bytes'] - cipher['in_sync_wire_bytes']:,} bytes carry the 10 entries)")
    print(f"  same state on both: {cipher['same_state']}")
    print("\n(discovery and a save visible on a connected peer: bench/live.py)")


if __name__ == "__main__":
    main()
