"""T22: fieldkit refuses to start with an unsafe configuration, in one line that says what to do:
a clinic folder other users can read, a SQLite hub without a key, a hub key kept in the hub's data
directory (as a key file or in hub.toml)."""

from __future__ import annotations

import subprocess

from campaign_support import FIELDKIT, environment, record, run
from hub_support import HUB_KEY


def refused(result: subprocess.CompletedProcess, words: str) -> bool:
    return result.returncode == 1 and words in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_unsafe_configurations_are_refused_in_one_line(tmp_path, tmp_path_factory):
    clinic, passphrase = tmp_path / "clinic", "unsafe config 2026"

    def fieldkit(*args: str, **extra: str) -> subprocess.CompletedProcess:
        return run([*FIELDKIT, *args], environment(clinic, "amina", passphrase, **extra))

    assert fieldkit("init", "--supervisor", "amina").returncode == 0
    assert clinic.stat().st_mode & 0o777 == 0o700
    cases = {}

    clinic.chmod(0o755)  # an administrator "fixed" access to the folder for a backup tool
    (clinic / "keystore.db").chmod(0o644)
    cases["clinic folder readable by others"] = refused(fieldkit("patient", "search", "x"), "chmod 700")
    clinic.chmod(0o700)
    assert fieldkit("patient", "search", "x").returncode == 0

    hub = tmp_path / "hub"
    assert fieldkit("hub", "init", "--data", str(hub)).returncode == 0
    cases["SQLite hub without a key"] = refused(fieldkit("hub", "serve", "--data", str(hub), "--port", "0"),
                                                "needs a key")
    (hub / "hub.key").write_text(HUB_KEY.hex())
    cases["hub key file in the data directory"] = refused(
        fieldkit("hub", "serve", "--data", str(hub), "--port", "0", FIELDKIT_HUB_KEY_FILE=str(hub / "hub.key")),
        "must not be kept in the data directory")
    (hub / "hub.toml").write_text(f'key = "{HUB_KEY.hex()}"\n')
    cases["hub key in hub.toml"] = refused(fieldkit("hub", "serve", "--data", str(hub), "--port", "0"),
                                           "must not be kept in its data directory")
    assert not (hub / "hub.db").exists()  # no store was ever begun
    assert cases == dict.fromkeys(cases, True)
    record(tmp_path_factory, "T22 unsafe configurations refused", kills=0, lost=0, refused=f"{len(cases)}/{len(cases)}")
