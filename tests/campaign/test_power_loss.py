"""T3: power loss, modelled on the disk rather than on the process. A preloaded shim
(shim/iolog.c) logs every write, truncation, fsync and unlink the clinic's database files receive,
in order; for each crash point (a position in that log) the test rebuilds the folder as the disk
would hold it after the power went: what an fsync of its file made durable before that point, plus
a seeded random part of the writes not yet synced (the disk's cache flushes in any order). The real
store must then open it, pass `fieldkit db check`, and hold every save acknowledged before the point.

The negative control runs the same workload with synchronous=NORMAL on the writer connection: the
same replay must then lose acknowledged saves, or the harness would prove nothing.
FIELDKIT_SEED=N replays a run's choice of crash points and unsynced writes.
"""

from __future__ import annotations

import os
import random
import shutil
import sys
from pathlib import Path

import pytest
from campaign_support import Op, environment, io_log, iolog_shim, record, run, scaled, shimmed, verified
from sync_support import PASSPHRASE

from fieldkit.store.home import Home
from fieldkit.store.session import create_clinic, unlock
from fieldkit.sync.identity import new_device_key

ACKER = Path(__file__).with_name("acker.py")
# Store sessions of the workload: the first crosses SQLite's automatic checkpoint (1,000 WAL pages),
# and each close checkpoints and deletes the WAL, so crash points fall inside checkpoints too.
SESSIONS = ("90", "15", "15")


def clinic(folder: Path) -> Home:
    home = Home(folder)
    key, device = new_device_key()
    store, _ = create_clinic(home, supervisor="amina", passphrase=PASSPHRASE, device_id=device, device_key=key)
    store.close()
    return home


def logged_workload(tmp_path: Path, shim: Path, **env: str) -> tuple[dict[str, bytes], list[Op], list[str]]:
    """The clinic's files before the workload, the shim's log of it, and the ids it acknowledged."""
    home = clinic(tmp_path / "clinic")
    before = {str(path): path.read_bytes() for path in home.path.iterdir()}
    log = tmp_path / "io.log"
    done = run([sys.executable, str(ACKER), *SESSIONS], shimmed(environment(home.path, "amina", **env), shim, home.path, log))
    assert done.returncode == 0, done.stderr
    return before, io_log(log), done.stdout.split()


def acknowledged(ops: list[Op]) -> list[tuple[int, str]]:
    """(position in the log, id) of each acknowledgement: it is done once the log has passed it."""
    return [(index + 1, op.data.decode().strip()) for index, op in enumerate(ops)
            if op.kind == "write" and op.path.endswith("/acks")]


def crash_points(ops: list[Op], count: int, rng: random.Random) -> list[int]:
    """Just before and just after every fsync and every acknowledgement, then seeded random positions."""
    edges = {index + step for index, op in enumerate(ops) if op.kind == "sync" or op.path.endswith("/acks")
             for step in (0, 1)}
    points = sorted(edges) if len(edges) <= count else sorted(rng.sample(sorted(edges), count))
    rest = sorted(set(range(len(ops) + 1)) - set(points))
    return sorted(points + rng.sample(rest, min(count - len(points), len(rest))))


def apply(content: bytearray, op: Op) -> None:
    if op.kind == "truncate":
        del content[op.offset:]
        content.extend(bytes(max(0, op.offset - len(content))))
    else:
        end = op.offset + len(op.data)
        content.extend(bytes(max(0, end - len(content))))
        content[op.offset:end] = op.data


def disks(before: dict[str, bytes], ops: list[Op], points: list[int], rng: random.Random):
    """(point, {path: bytes}) for each crash point in order: the disk after losing power there."""
    durable = {path: bytearray(data) for path, data in before.items()}
    pending: dict[str, list[Op]] = {}
    at = 0
    for point in points:
        for op in ops[at:point]:
            if op.kind == "open":
                durable.setdefault(op.path, bytearray())  # names reach the disk in order (the model's choice)
            elif op.kind in ("write", "truncate"):
                pending.setdefault(op.path, []).append(op)
            elif op.kind == "sync":
                for unsynced in pending.pop(op.path, []):
                    apply(durable.setdefault(op.path, bytearray()), unsynced)
            elif op.kind == "unlink":
                durable.pop(op.path, None)
                pending.pop(op.path, None)
            else:
                raise AssertionError(f"the workload did something the replay does not model: {op}")
        at = point
        # Each unsynced write reached the disk or not, at random (none at all a third of the time).
        kept = 0.0 if rng.random() < 1 / 3 else rng.random()
        disk = {}
        for path, content in durable.items():
            image = bytearray(content)
            for op in pending.get(path, []):
                if rng.random() < kept:
                    apply(image, op)
            disk[path] = bytes(image)
        yield point, disk


def held_after(disk: dict[str, bytes], folder: Path) -> set[str]:
    """Patients the real store finds on this disk, after `fieldkit db check` passed on it."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(mode=0o700)
    for path, data in disk.items():
        name = Path(path).name
        # The shared-memory index is rebuilt from the WAL by the first connection after a reboot.
        if name != "acks" and not name.endswith("-shm"):
            (folder / name).write_bytes(data)
    store, _ = unlock(Home(folder), "amina", PASSPHRASE)
    with store:
        verified(store)
        return set(store.read(lambda conn: [row[0] for row in conn.execute("SELECT id FROM patients")]))


def losses(before, ops, points, rng, folder: Path) -> list[tuple[int, set[str]]]:
    acks = acknowledged(ops)
    found = []
    for point, disk in disks(before, ops, points, rng):
        lost = {patient for position, patient in acks if position <= point} - held_after(disk, folder)
        found.append((point, lost))
    return found


@pytest.fixture
def shim(tmp_path_factory) -> Path:
    return iolog_shim(tmp_path_factory.getbasetemp())


@pytest.fixture
def seed() -> int:
    chosen = int(os.environ.get("FIELDKIT_SEED") or random.randrange(10**6))
    print(f"power-loss replay seed: FIELDKIT_SEED={chosen}")
    return chosen


def test_power_lost_at_any_point_loses_no_acknowledged_save(tmp_path, tmp_path_factory, shim, seed):
    before, ops, printed = logged_workload(tmp_path, shim)
    assert [patient for _, patient in acknowledged(ops)] == printed  # every ack is in the log, in order
    assert sum(op.kind == "sync" for op in ops) >= len(printed)  # synchronous=FULL: a sync per commit
    rng = random.Random(seed)
    count = scaled(300, 5000)
    points = crash_points(ops, count, rng)
    found = losses(before, ops, points, rng, tmp_path / "after")
    lost = {patient for _, missing in found for patient in missing}
    assert not lost, [(point, sorted(missing)) for point, missing in found if missing][:5]
    record(tmp_path_factory, "T3 power loss (write log replay)", crash_points=len(points), lost=len(lost),
           seed=seed, log_ops=len(ops))


def test_the_replay_loses_saves_when_commits_are_not_synced(tmp_path, tmp_path_factory, shim, seed):
    """The negative control: with synchronous=NORMAL a commit does not fsync the WAL, so the same replay
    must lose acknowledged saves; a harness that found none here could not find them at all."""
    before, ops, printed = logged_workload(tmp_path, shim, ACKER_SYNCHRONOUS="NORMAL")
    assert len(printed) == sum(map(int, SESSIONS))
    rng = random.Random(seed)
    points = crash_points(ops, scaled(100, 1000), rng)
    found = losses(before, ops, points, rng, tmp_path / "after")
    losing = [point for point, missing in found if missing]
    assert losing, "synchronous=NORMAL lost nothing: the replay does not model unsynced writes"
    record(tmp_path_factory, "T3 power loss (write log replay)", control_crash_points=len(points),
           control_lost=len(losing))
