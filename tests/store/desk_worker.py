"""The clinic screen's desk in a process of its own, for test_processes.py.

    python desk_worker.py HOME USER TAG      (the passphrase comes from FIELDKIT_PASSPHRASE)

Opens the clinic with `Desk.open` inside `asyncio.run`, as the clinic screen does, and works
like a clerk at the keyboard until SIGTERM: registers a patient, finds her, opens her record (an
audited write), keeps a draft of an encounter, records it and drops the draft; now and then opens
a patient another process saved. Each line goes to stdout, flushed, only once the awaited call
has returned, so what it printed was acknowledged:

    ready DEVICE_ID
    patient PATIENT_ID
    viewed PATIENT_ID
    encounter ENCOUNTER_ID PATIENT_ID
    heard ORIGIN,ORIGIN        (a commit by another process, as `Desk.subscribe` tells it)
    stopped

Anything unexpected raises, so a traceback on stderr is how the test hears of it.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from pathlib import Path

from fieldkit.store.home import Home
from fieldkit.tui.desk import Desk


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def word(number: int) -> str:
    """A name nobody else uses, letters only (the search index keys names, not digits)."""
    letters = ""
    while True:
        number, digit = divmod(number, 26)
        letters += "abcdefghijklmnopqrstuvwxyz"[digit]
        if not number:
            return letters


async def main(home: Path, user: str, tag: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stop.set)
    rng = random.Random(tag)
    desk = await Desk.open(Home(home), user, os.environ["FIELDKIT_PASSPHRASE"])
    say(f"ready {desk.store.device_id}")

    def heard(commit) -> None:
        if commit.external and commit.origins:
            say("heard " + ",".join(sorted(commit.origins)))
    unsubscribe = desk.subscribe(heard)
    try:
        number = 0
        while not stop.is_set():
            number += 1
            given = f"Desk{tag.capitalize()}{word(number).capitalize()}"
            registered = await desk.register({"given_name": given, "family_name": "Tran", "sex": rng.choice(
                ["female", "male"]), "locality": "Soc Trang"})
            patient_id = registered.patient_id
            say(f"patient {patient_id}")
            found = await desk.search(given)
            if patient_id not in [p.id for p in found]:
                raise AssertionError(f"the desk's own acknowledged patient {patient_id} is not found by {given!r}")
            record = await desk.patient(patient_id)
            if record["id"] != patient_id or record["given_name"] != given:
                raise AssertionError(f"opened {patient_id}, got {record['id']} {record['given_name']!r}")
            say(f"viewed {patient_id}")
            form = {"patient_id": patient_id, "vitals": {"pulse": 80 + number % 20}, "notes": f"draft {number}"}
            await desk.keep_draft(patient_id, form)
            if await desk.draft(patient_id) != form:
                raise AssertionError(f"the draft kept for {patient_id} does not read back")
            recorded = await desk.record_encounter(form)
            say(f"encounter {recorded.encounter_id} {patient_id}")
            await desk.drop_draft(patient_id)
            if await desk.draft(patient_id) is not None:
                raise AssertionError(f"the draft of {patient_id} was dropped but reads back")
            if rng.random() < 0.5:  # someone else's patient: the command line's or the peer's
                others = await desk.search(rng.choice(["Cli", "Peer"]))
                if others:
                    other = rng.choice(others).id
                    await desk.patient(other)
                    say(f"viewed {other}")
            # A person at the keyboard: the writer idles now and then, and looks for others' commits.
            try:
                await asyncio.wait_for(stop.wait(), rng.uniform(0.0, 0.8))
            except TimeoutError:
                pass
    finally:
        unsubscribe()
        await desk.close()
    say("stopped")


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2], sys.argv[3]))
