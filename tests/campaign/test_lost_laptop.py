"""T19, the lost-laptop drill: a laptop taken while the clinic screen's process is killed holds no
readable patient data anywhere in its data directory, and each passphrase guess costs the thief
the production Argon2id derivation (at least 0.5 s on these machines)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from campaign_support import record

from fieldkit.errors import WrongPassphrase
from fieldkit.store.keystore import Keystore

PASSPHRASE = "lost laptop 2026"
SAVER = Path(__file__).with_name("saver.py")
MARKERS = ["Nguyễn-PHI-4c1d", "فاطمة-PHI-9e2a", "+84912407771"]  # found nowhere else: a hit is a leak


def run(home, *args: str, point: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "FIELDKIT_HOME": str(home), "FIELDKIT_PASSPHRASE": PASSPHRASE, "FIELDKIT_USER": "amina"}
    env.pop("FIELDKIT_CRASH_AT", None)
    command = [sys.executable, str(SAVER), "5"] if args == ("saver",) else [sys.executable, "-m", "fieldkit", *args]
    if point:
        env["FIELDKIT_CRASH_AT"] = point
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def test_a_lost_laptop_shows_no_marker_and_guesses_cost_half_a_second(tmp_path, tmp_path_factory):
    home = tmp_path / "clinic"
    assert run(home, "init", "--supervisor", "amina").returncode == 0  # the production KDF
    added = run(home, "patient", "add", "--json", "--given", MARKERS[0], "--family", MARKERS[1], "--sex", "female",
                "--phone", MARKERS[2])
    assert added.returncode == 0, added.stderr
    patient = json.loads(added.stdout)["id"]
    assert run(home, "patient", "show", patient).returncode == 0  # an audited opening, a draft-free path
    # Taken while a process was saving (killed mid-commit): its WAL is on the disk as well.
    assert run(home, "saver", point="store.write.after_commit:3").returncode == -9
    files = [path for path in home.rglob("*") if path.is_file()]
    hits = [(path.name, marker) for path in files for marker in MARKERS if marker.encode() in path.read_bytes()]
    assert files and hits == []

    keystore = Keystore(home / "keystore.db")
    started = time.perf_counter()
    guesses = 3
    for guess in range(guesses):
        try:
            keystore.unlock("amina", f"wrong guess {guess}")
        except WrongPassphrase:
            pass
    per_guess = (time.perf_counter() - started) / guesses
    assert per_guess >= 0.5, f"{per_guess:.2f} s per guess"
    record(tmp_path_factory, "T19 lost laptop: marker hits on disk", kills=0, lost=len(hits),
           seconds_per_guess=round(per_guess, 2))
