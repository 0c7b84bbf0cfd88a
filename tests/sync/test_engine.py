"""The engine tells peers of a save as soon as it commits: the store's notice wakes it, not a poll."""

from __future__ import annotations

import asyncio
import time

from sync_support import network

from fieldkit.sync.engine import Engine

LAN = ["127.0.0.1"]
HOUR = 3600.0


def holds(laptop, patient_id: str) -> bool:
    return bool(laptop.store.read(lambda conn: conn.execute("SELECT 1 FROM patients WHERE id = ?",
                                                             (patient_id,)).fetchone()))


async def until(condition, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not await asyncio.to_thread(condition):
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_a_save_reaches_a_peer_without_waiting_for_a_poll(tmp_path):
    here, there = await asyncio.to_thread(network, tmp_path, 2)
    # Neither engine looks on its own for an hour: only the commit notice can start a session.
    engines = [Engine(laptop.store, laptop.member, host="127.0.0.1", interfaces=LAN, interval=HOUR, full_every=HOUR)
               for laptop in (here, there)]
    try:
        for engine in engines:
            await engine.start()
        await until(lambda: all(engine.peers and all(p.last_sync for p in engine.peers.values()) for engine in engines),
                    30)  # the first sighting is a session of its own
        before = [len(engine.history) for engine in engines]
        for name in ("Lan", "Minh", "Hoa"):
            patient = await asyncio.to_thread(here.clinic.register, {"given_name": name, "sex": "female"})
            await until(lambda saved=patient: holds(there, saved.patient_id), 10)
        # and the other way, from the laptop that so far only received
        patient = await asyncio.to_thread(there.clinic.register, {"given_name": "Bảo", "sex": "male"})
        await until(lambda: holds(here, patient.patient_id), 10)
        await asyncio.sleep(0.5)  # time for a needless session, if one were coming
        for engine, seen in zip(engines, before):
            later = list(engine.history)[: len(engine.history) - seen]
            # The receiver commits mid-session and hears of it; it must not call the sender straight back.
            assert all(event.sent or event.received for event in later), later
    finally:
        for engine in engines:
            await engine.stop()
        for laptop in (here, there):
            await asyncio.to_thread(laptop.store.close)
