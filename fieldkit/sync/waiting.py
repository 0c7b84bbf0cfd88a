"""Waiting for a wake-up or a deadline, whichever comes first, in a task that must stop when told."""

from __future__ import annotations

import asyncio


async def woken(event: asyncio.Event, seconds: float) -> None:
    """Return when `event` is set or after `seconds`.

    Not `asyncio.wait_for(event.wait(), seconds)`: on Python 3.11 a cancellation that lands as the
    event is set is swallowed there, and a task looping on it then never stops (`sync serve`
    hung on SIGTERM that way)."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        pass
