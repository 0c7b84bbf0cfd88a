"""What the deploy tests share: the offline installer's stick folder, built once, and the checks for
root and system tools.

Fixture `stick` (session scope): the Path of a stick folder that `deploy/usb-image/build-stick.sh`
built from this working tree (x86_64 wheels only, the image's architecture): install.sh,
SHA256SUMS, VERSION, requirements.lock, wheelhouse/x86_64/*.whl. The first build downloads from
PyPI (about 65 MB; pip's cache serves later runs). Under pytest-xdist the workers of one run share
one build (a lock file beside their temporary folders); two separate runs each build their own.
Treat it as read-only: copy it (shutil.copytree) before changing anything.

Helpers, importable as `from deploy.conftest import require_tool, require_root, require_unshare_net`:
each returns when the machine can do the thing, and otherwise skips the test with the reason,
or fails it instead when FIELDKIT_REQUIRE_TOOLS=1 (CI sets it: there a missing tool is a broken
runner, not a reason to test less).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD_STICK = REPO / "deploy" / "usb-image" / "build-stick.sh"


def missing(reason: str) -> None:
    """Skip with `reason`, or fail with it where FIELDKIT_REQUIRE_TOOLS=1."""
    if os.environ.get("FIELDKIT_REQUIRE_TOOLS") == "1":
        pytest.fail(f"{reason} (and FIELDKIT_REQUIRE_TOOLS=1)")
    pytest.skip(reason)


def require_tool(name: str, package: str | None = None) -> str:
    """The tool's path, or skip (fail under FIELDKIT_REQUIRE_TOOLS=1) saying what to install."""
    found = shutil.which(name)
    if not found:
        missing(f"{name} is not installed (Debian: apt-get install {package or name})")
    return str(found)


def require_root(why: str) -> None:
    if os.geteuid() != 0:
        missing(f"needs root: {why}")


def require_unshare_net() -> str:
    """`unshare --net`, checked to work here (root, and a kernel or container that allows a new
    network namespace)."""
    unshare = require_tool("unshare", "util-linux")
    require_root("unshare --net makes a network namespace with no way out")
    tried = subprocess.run([unshare, "--net", "true"], capture_output=True, text=True)
    if tried.returncode != 0:
        missing(f"unshare --net is not permitted here: {tried.stderr.strip()}")
    return unshare


def pypi_reachable() -> bool:
    try:
        urllib.request.urlopen("https://pypi.org/simple/pip/", timeout=15).close()
    except OSError:
        return False
    return True


def build_stick(out: Path, **env: str) -> Path:
    """Run build-stick.sh into `out`; `env` adds variables (SRC, ARCHS). Fails the test with the
    build's own last lines if it fails."""
    settings = {"ARCHS": "x86_64", "BUILD_PYTHON": sys.executable, "WORK": str(out.parent / f"{out.name}-work"), **env}
    built = subprocess.run([str(BUILD_STICK), str(out)], env={**os.environ, **settings}, capture_output=True,
                           text=True, timeout=1800)
    if built.returncode != 0:
        if not pypi_reachable():
            missing("building the stick needs PyPI, which is not reachable from here")
        pytest.fail(f"build-stick.sh failed ({built.returncode}):\n{built.stdout[-2000:]}\n{built.stderr[-4000:]}")
    return out


@pytest.fixture(scope="session")
def stick(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The stick folder, built once per test run (see the module's docstring)."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # one run's workers, not other runs
    out = shared / "deploy-stick"
    with open(shared / "deploy-stick.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "SHA256SUMS").exists():
            build_stick(out)
    return out
