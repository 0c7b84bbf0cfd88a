"""Registers patients in sessions of the store, like saver.py, and acknowledges each saved id twice:
first by appending it to the file `acks` in the clinic folder (so that, under the write-logging shim,
the acknowledgement takes its place in the order of the disk's writes), then on stdout.

    python acker.py SESSION_SIZE...   (FIELDKIT_HOME, FIELDKIT_USER, FIELDKIT_PASSPHRASE as for fieldkit)

Each argument is one opening of the store (closing it checkpoints the WAL into the database and
deletes it). With ACKER_SYNCHRONOUS=NORMAL the writer connection is switched to synchronous=NORMAL
after opening: the negative control of the power-loss test, which must then lose acknowledged saves.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from fieldkit.records.services import Clinic
from fieldkit.store.home import Home
from fieldkit.store.session import unlock

home = Home(Path(os.environ["FIELDKIT_HOME"]))
acks = os.open(home.path / "acks", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
synchronous = os.environ.get("ACKER_SYNCHRONOUS")
number = 0
for size in map(int, sys.argv[1:] or ["50"]):
    store, user = unlock(home, os.environ["FIELDKIT_USER"], os.environ["FIELDKIT_PASSPHRASE"])
    if synchronous:
        # Only on this process's writer connection: no production setting can weaken it.
        store._writer.call(lambda conn: conn.execute(f"PRAGMA synchronous = {synchronous}"))
    clinic = Clinic(store, user)
    for _ in range(size):
        saved = clinic.register({"given_name": f"Acked{number}", "family_name": "Power", "sex": "female"})
        os.write(acks, f"{saved.patient_id}\n".encode())
        print(saved.patient_id, flush=True)
        number += 1
    store.close()
os.close(acks)
