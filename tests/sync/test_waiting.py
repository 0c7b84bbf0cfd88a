"""A task that waits for a wake-up stops when cancelled, even as the wake-up lands."""

from __future__ import annotations

import asyncio

from fieldkit.sync.waiting import woken


async def test_a_cancellation_that_lands_with_the_wake_up_still_stops_the_task():
    for _ in range(50):
        event = asyncio.Event()

        async def loop(event: asyncio.Event) -> None:
            while True:  # as the engine's and the uplink's loops do
                await woken(event, 30)
                event.clear()

        task = asyncio.create_task(loop(event))
        await asyncio.sleep(0)  # the task is now waiting
        event.set()
        task.cancel()  # in the same turn of the loop as the wake-up
        done, _ = await asyncio.wait([task], timeout=2)
        assert done, "the cancellation was lost: the task never stopped"
        assert task.cancelled()
