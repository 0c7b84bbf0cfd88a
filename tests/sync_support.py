"""Laptops for sync tests: real clinics (SQLCipher, key slots, device keys) in one network."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fieldkit.records.services import Clinic
from fieldkit.store.db import Store
from fieldkit.store.home import Home
from fieldkit.store.keystore import User
from fieldkit.store.session import create_clinic, unlock
from fieldkit.sync import certs, membership
from fieldkit.sync.identity import new_device_key, public_key
from fieldkit.sync.peer import Server, sync_with

CHEAP_KDF = {"memory_kib": 1024, "iterations": 1, "lanes": 1}
PASSPHRASE = "correct horse battery"


@dataclass
class Laptop:
    name: str
    home: Home
    store: Store
    user: User
    member: membership.Membership | None

    @property
    def clinic(self) -> Clinic:
        return Clinic(self.store, self.user)

    @property
    def device(self) -> str:
        return self.store.device_id


def new_laptop(root: Path, name: str) -> Laptop:
    home = Home(root / name)
    key, device = new_device_key()
    store, user = create_clinic(home, supervisor=f"{name}-lead", passphrase=PASSPHRASE, device_id=device,
                                device_key=key, kdf=CHEAP_KDF)
    return Laptop(name, home, store, user, None)


def enrol(laptop: Laptop, founder: Laptop) -> Laptop:
    """What `fieldkit network join` ends with: the founder's network key signed this laptop's key."""
    network = founder.member.network
    certificate = certs.enrol(founder.member.network_key, network, public_key(membership.device_key(laptop.store)))
    laptop.member = membership.join(laptop.store, network, certificate)
    return laptop


def network(root: Path, count: int, name: str = "Soc Trang mobile clinics") -> list[Laptop]:
    founder = new_laptop(root, "laptop0")
    founder.member = membership.create(founder.store, name)
    return [founder] + [enrol(new_laptop(root, f"laptop{i}"), founder) for i in range(1, count)]


def copy_laptop(original: Laptop, root: Path) -> Laptop:
    """A laptop whose store is closed, copied whole into `root` and unlocked: the same device, key,
    enrolment and history, for a test that needs many fresh networks and not one enrolment each."""
    home = Home(root / original.name)
    shutil.copytree(original.home.path, home.path)
    store, user = unlock(home, original.user.name, PASSPHRASE)
    return Laptop(original.name, home, store, user, membership.load(store))


def reopen(laptop: Laptop) -> None:
    """The laptop's store closed and unlocked again, as after a crash and a restart."""
    laptop.store.close()
    laptop.store, laptop.user = unlock(laptop.home, laptop.user.name, PASSPHRASE)


@dataclass
class Forced:
    """Laptops that all saw `base` of a field each wrote a different value: one conflict, unless one
    of their entries (`writes`: origin, seq) is held back."""

    patient: str
    name: str
    base: str
    values: tuple[Any, ...]
    writes: tuple[tuple[str, int], ...] = ()


# -- sessions over real loopback TLS, and what to compare after them --------------------------------

@asynccontextmanager
async def serving(laptop: Laptop) -> AsyncIterator[Any]:
    """`laptop` listening on loopback; `server.sessions` queues (report, error) of each session it ran."""
    sessions: asyncio.Queue = asyncio.Queue()

    async def finished(report, address, error) -> None:
        sessions.put_nowait((report, error))

    async with Server(laptop.store, laptop.member, host="127.0.0.1", on_session=finished) as server:
        server.sessions = sessions
        yield server


async def session(client: Laptop, server: Any, *, wait: float = 10.0):
    """One session from `client` to a running `serving` server; (client's report, server's report).

    Waits for the server's side to finish too, so nothing of it is still running afterwards."""
    mine = await sync_with(client.store, client.member, "127.0.0.1", server.port)
    theirs, error = await asyncio.wait_for(server.sessions.get(), wait)
    if error is not None:
        raise error
    return mine, theirs


async def sync(client: Laptop, server_laptop: Laptop):
    """Start `server_laptop` listening, run one session from `client`, stop listening."""
    async with serving(server_laptop) as server:
        return await session(client, server)


def journal(laptop: Laptop) -> set[tuple]:
    """Every journal entry the laptop holds, as rows."""
    return {entry.row() for entry in laptop.store.entries_after({}, 10**9)}


def conflict_rows(laptop: Laptop) -> dict[str, tuple]:
    """The fold's conflict rows by id: (entity_id, field, base, safety, candidates)."""
    return laptop.store.read(lambda conn: {row[0]: tuple(row[2:]) for row in conn.execute(
        "SELECT id, entity, entity_id, field, base, safety, candidates FROM conflicts")})


def state(laptop: Laptop) -> tuple[str, dict[str, int]]:
    return laptop.store.state_hash(), laptop.store.version_vector()
