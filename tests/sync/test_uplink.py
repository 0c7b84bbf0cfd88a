"""The engine forwards to the hub in the background: soon after saves, backing off when it is down."""

from __future__ import annotations

import asyncio
import socket
import time

from hub_support import enrol_hub, running_hub
from sync_support import network

from fieldkit.sync.engine import Engine
from fieldkit.sync.hub_vector import pending


def closed_port() -> int:
    """A loopback port nothing listens on: connecting is refused at once, as with a hub that is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def engine(laptop, **uplink) -> Engine:
    running = Engine(laptop.store, laptop.member, host="127.0.0.1", interval=0.05, discover=False)
    for name, value in uplink.items():
        setattr(running.uplink, name, value)
    return running


async def until(condition, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def register(laptop, name: str) -> None:
    laptop.clinic.register({"given_name": name, "family_name": "Lê", "sex": "male"})


async def test_saves_reach_the_hub_soon_without_any_command(tmp_path):
    [laptop] = await asyncio.to_thread(network, tmp_path, 1)
    enrol_hub(tmp_path / "hub", laptop)
    async with running_hub(tmp_path / "hub", f"sqlite:///{tmp_path / 'hub' / 'hub.db'}") as hub:
        await asyncio.to_thread(laptop.store.set_meta, {"hub_url": hub.url})
        async with engine(laptop, soon=0.1, every=3600) as running:
            uplink = running.uplink
            await until(lambda: uplink.status == "sent" and uplink.pending == 0)
            first = uplink.last_success
            assert first is not None and await asyncio.to_thread(hub.storage.count) == uplink.sent
            await asyncio.to_thread(register, laptop, "Bảo")
            # The save is seen at the engine's next tick and forwarded `soon` after, not an hour later.
            await until(lambda: uplink.pending == 1)
            await until(lambda: uplink.pending == 0 and uplink.last_success > first, 5)
            assert uplink.sent == 1  # the one new entry, nothing twice
        assert await asyncio.to_thread(hub.storage.version_vector) == await asyncio.to_thread(laptop.store.version_vector)
    assert await laptop.store.aread(pending) == 0


async def test_a_hub_that_is_down_is_retried_with_growing_waits_not_in_a_loop(tmp_path):
    [laptop] = await asyncio.to_thread(network, tmp_path, 1)
    await asyncio.to_thread(laptop.store.set_meta, {"hub_url": f"https://127.0.0.1:{closed_port()}"})
    async with engine(laptop, soon=0.01, first_wait=0.2, longest_wait=0.8, attempts=1) as running:
        uplink = running.uplink
        started = time.monotonic()
        while time.monotonic() - started < 3:  # saves keep coming: they must not cut the waits short
            await asyncio.to_thread(register, laptop, "Khoa")
            await asyncio.sleep(0.05)
        rounds = uplink.failures
        assert uplink.status == "failed" and "does not answer" in uplink.error
        held = sum((await asyncio.to_thread(laptop.store.version_vector)).values())
        await until(lambda: uplink.pending == held)  # every save counted, none acknowledged
    # Waits of 0.2, 0.4, 0.8, 0.8 … s, each jittered by ±50%: at most 9 rounds fit in 3 s. Without
    # the backoff, saves every 50 ms would start some 60.
    assert 3 <= rounds <= 9, rounds


async def test_a_hub_that_comes_back_gets_everything_and_the_waits_reset(tmp_path):
    [laptop] = await asyncio.to_thread(network, tmp_path, 1)
    enrol_hub(tmp_path / "hub", laptop)
    await asyncio.to_thread(register, laptop, "An")
    await asyncio.to_thread(laptop.store.set_meta, {"hub_url": f"https://127.0.0.1:{closed_port()}"})
    async with engine(laptop, soon=0.01, every=3600, first_wait=0.2, longest_wait=0.4, attempts=1) as running:
        uplink = running.uplink
        await until(lambda: uplink.failures >= 2)
        async with running_hub(tmp_path / "hub", f"sqlite:///{tmp_path / 'hub' / 'hub.db'}") as hub:
            await asyncio.to_thread(laptop.store.set_meta, {"hub_url": hub.url})  # the hub is back, here
            await until(lambda: uplink.status == "sent")
            assert uplink.failures == 0 and uplink.error == "" and uplink.pending == 0
            assert await asyncio.to_thread(hub.storage.count) == uplink.sent > 0
