"""What the campaign's tests share: processes armed at a crash point, and the report's rows.

Each kill adds a row to a file under the run's base temporary directory (shared by xdist's
workers); the root conftest reads them all at the end of the run and prints one table.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sync_support import PASSPHRASE

from fieldkit.store.maintenance import check

# PR tier by default; FIELDKIT_CAMPAIGN=deep multiplies the runs (README: "the deep tier").
DEEP = os.environ.get("FIELDKIT_CAMPAIGN") == "deep"
REPORT_DIR = "campaign-report"


def scaled(pr: int, deep: int) -> int:
    return deep if DEEP else pr


FIELDKIT = [sys.executable, "-m", "fieldkit"]


def environment(home: Path, user: str, passphrase: str = PASSPHRASE, point: str | None = None,
                **extra: str) -> dict[str, str]:
    """A fieldkit process's environment: this clinic as this user, armed at crash point `point` if
    given, and none of the FIELDKIT_* settings of the shell that runs the tests."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("FIELDKIT_")}
    env |= {"FIELDKIT_HOME": str(home), "FIELDKIT_PASSPHRASE": passphrase, "FIELDKIT_USER": user, **extra}
    if point:
        env["FIELDKIT_CRASH_AT"] = point
    return env


def environment_of(laptop, point: str | None = None) -> dict[str, str]:
    return environment(laptop.home.path, laptop.user.name, point=point)


def fieldkit(laptop, *args: str, point: str | None = None, **popen) -> subprocess.Popen:
    return subprocess.Popen([*FIELDKIT, *args], env=environment_of(laptop, point), text=True, **popen)


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """A command to its end, its output kept, nothing on its stdin (a question is refused)."""
    return subprocess.run(command, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=120)


def verified(store) -> dict:
    """`fieldkit db check` on the store: pages, cipher HMACs, every chain and the audit chain."""
    report = check(store)
    assert report["ok"], report
    return report


def record(tmp_path_factory, threat: str, **figures) -> None:
    """One run's figures for the end-of-run table (threat: a row of security.md section 3)."""
    base = Path(tmp_path_factory.getbasetemp())
    # Under xdist each worker's base is a folder of the run's base; the report is the run's.
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / REPORT_DIR
    folder.mkdir(exist_ok=True)
    with open(folder / f"{os.getpid()}.jsonl", "a") as out:
        out.write(json.dumps({"threat": threat, **figures}) + "\n")
