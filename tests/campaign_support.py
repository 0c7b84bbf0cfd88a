"""What the campaign's tests share: processes armed at a crash point, and the report's rows.

Each kill adds a row to a file under the run's base temporary directory (shared by xdist's
workers); the root conftest reads them all at the end of the run and prints one table.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass
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


# -- the write-logging shim (tests/campaign/shim/iolog.c) for T3 power loss and T15 disk full -------------------

SHIM_SOURCE = Path(__file__).parent / "campaign" / "shim" / "iolog.c"
OPS = {1: "write", 2: "truncate", 3: "sync", 4: "unlink", 5: "rename", 6: "open"}


def iolog_shim(folder: Path) -> Path:
    """The shim compiled into `folder` (once per folder); the calling test is skipped without a C compiler."""
    import pytest

    built = folder / "iolog.so"
    if not built.exists():
        compiler = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
        if compiler is None:
            if os.environ.get("FIELDKIT_REQUIRE_COMPILER"):  # set by .ci/run: there, a skip would hide T3 and T15
                pytest.fail("no C compiler to build tests/campaign/shim/iolog.c")
            pytest.skip("no C compiler to build the LD_PRELOAD shim tests/campaign/shim/iolog.c")
        partial = folder / f"iolog.{os.getpid()}.so"  # xdist workers may build side by side
        subprocess.run([compiler, "-O2", "-Wall", "-shared", "-fPIC", "-o", str(partial), str(SHIM_SOURCE), "-ldl",
                        "-lpthread"], check=True, capture_output=True)
        partial.replace(built)
    return built


def shimmed(env: dict[str, str], shim: Path, watched: Path, log: Path | None = None, **settings: str) -> dict[str, str]:
    """`env` with the shim preloaded, watching the files under `watched`; IOLOG_* `settings` as given."""
    extra = {"IOLOG_FILE": str(log)} if log else {}
    return env | {"LD_PRELOAD": str(shim), "IOLOG_DIR": str(watched), **extra,
                  **{f"IOLOG_{name.upper()}": value for name, value in settings.items()}}


@dataclass(frozen=True)
class Op:
    """One logged call: a write's bytes at `offset`, a truncation to `offset`, a sync, an unlink, a rename to `data`."""

    kind: str
    path: str
    offset: int
    data: bytes = b""


def io_log(path: Path) -> list[Op]:
    raw, ops, at = path.read_bytes(), [], 0
    while at < len(raw):
        code, path_length, offset, length = struct.unpack_from("<BIqQ", raw, at)
        at += 21
        name = raw[at:at + path_length].decode()
        at += path_length
        kind = OPS[code]
        data = b""
        if kind in ("write", "rename"):
            data, at = raw[at:at + length], at + length
        ops.append(Op(kind, name, offset, data))
    return ops
