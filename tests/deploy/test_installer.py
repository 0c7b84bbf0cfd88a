"""The offline installer (deploy/usb-image/stage0-stick): the stick built by build-stick.sh, installed by
its install.sh as a real subprocess, inside a network namespace with no way out where this machine
allows one (root), into temporary prefix, bin and data folders.

Newer sticks are the session's stick with fieldkit's wheel rebuilt from a copy of the source whose
version is bumped, then stamped by the real 02-installer step (VERSION, SHA256SUMS).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from .conftest import REPO, require_unshare_net

pytestmark = pytest.mark.slow

STAGE0 = REPO / "deploy" / "usb-image" / "stage0-stick"
LOCK = STAGE0 / "00-lock" / "requirements.lock"
PASSPHRASE = "stick install 2026"
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
DOWNLOAD = "import urllib.request; urllib.request.urlopen('https://pypi.org/simple/pip/', timeout=10)"


def offline() -> list[str]:
    """The command prefix that cuts the network, where this machine can (every install here runs
    offline then; test_installs_with_no_network insists on it)."""
    if os.geteuid() == 0 and shutil.which("unshare"):
        if subprocess.run(["unshare", "--net", "true"], capture_output=True).returncode == 0:
            return ["unshare", "--net"]
    return []


def install(stick: Path, root: Path, *options: str, env: dict[str, str] | None = None,
            first: str | None = None) -> subprocess.CompletedProcess[str]:
    """`sh install.sh` into root/prefix, root/bin and root/data; `first` is a shell command run in the
    same namespace just before it."""
    command = f'{first}\nexec sh "$0" "$@"' if first else 'exec sh "$0" "$@"'
    args = [*offline(), "sh", "-c", command, str(stick / "install.sh"), "--prefix", str(root / "prefix"),
            "--bin-dir", str(root / "bin"), "--data-dir", str(root / "data"), *options]
    return subprocess.run(args, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=900)


def installed_ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"install.sh failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result.stdout


def fieldkit(root: Path, *args: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FIELDKIT_HOME": str(home or root / "data"), "FIELDKIT_PASSPHRASE": PASSPHRASE}
    env.pop("FIELDKIT_USER", None)
    return subprocess.run([str(root / "bin" / "fieldkit"), *args], capture_output=True, text=True, env=env, timeout=300)


def current(root: Path) -> str | None:
    link = root / "prefix" / "current"
    return os.readlink(link) if link.is_symlink() else None


def releases(root: Path) -> set[str]:
    folder = root / "prefix" / "releases"
    return {path.name for path in folder.iterdir()} if folder.is_dir() else set()


def snapshot(folder: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every file's bytes, mode and mtime, and the folder's own mode."""
    files = {str(path.relative_to(folder)): (path.read_bytes(), path.stat().st_mode, path.stat().st_mtime_ns)
             for path in sorted(folder.rglob("*")) if path.is_file()}
    return {**files, ".": (b"", folder.stat().st_mode, 0)}


def newer_stick(stick: Path, dest: Path, version: str, broken_check: bool = False) -> Path:
    """A copy of `stick` whose fieldkit wheel says `version` (and, with broken_check, whose `db check`
    always fails), stamped by 02-installer as build-stick.sh would."""
    source = dest.parent / f"{dest.name}-src"
    shutil.copytree(REPO / "fieldkit", source / "fieldkit", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "README.md", source)
    pyproject = (REPO / "pyproject.toml").read_text()
    bumped = re.sub(r'(?m)^version = ".*"$', f'version = "{version}"', pyproject, count=1)
    assert bumped != pyproject
    (source / "pyproject.toml").write_text(bumped)
    if broken_check:
        with open(source / "fieldkit" / "cli" / "database.py", "a") as module:
            module.write('\nimport sys as _sys\n\ndb.commands["check"].callback = lambda **_: _sys.exit(1)\n')
    shutil.copytree(stick, dest)
    wheelhouse = dest / "wheelhouse" / "x86_64"
    for old in wheelhouse.glob("fieldkit-*.whl"):
        old.unlink()
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheelhouse), str(source)],
                   check=True, capture_output=True, env={**os.environ, "PIP_CONFIG_FILE": os.devnull})
    subprocess.run([str(STAGE0 / "02-installer" / "00-run.sh")], check=True, capture_output=True,
                   env={**os.environ, "OUT": str(dest), "WORK": str(dest.parent / "work")})
    assert (dest / "VERSION").read_text().strip() == version
    return dest


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_stick_holds_the_lock_every_locked_wheel_and_fieldkit(stick):
    assert (stick / "VERSION").read_text().strip() == VERSION
    assert (stick / "requirements.lock").read_text() == LOCK.read_text()
    wheels = {path.name for path in (stick / "wheelhouse" / "x86_64").iterdir()}
    assert f"fieldkit-{VERSION}-py3-none-any.whl" in wheels
    pinned = re.findall(r"(?m)^([A-Za-z0-9._-]+)==(\S+)", LOCK.read_text())
    normal = {re.sub(r"[-_.]+", "_", wheel.split("-")[0]).lower() + "-" + wheel.split("-")[1] for wheel in wheels}
    assert {re.sub(r"[-_.]+", "_", name).lower() + "-" + version for name, version in pinned} <= normal
    assert len(wheels) == len(pinned) + 1
    listed = {line.split("  ", 1)[1] for line in (stick / "SHA256SUMS").read_text().splitlines()}
    on_disk = {str(path.relative_to(stick)) for path in stick.rglob("*") if path.is_file()} - {"SHA256SUMS"}
    assert listed == on_disk
    assert subprocess.run(["sha256sum", "--check", "--quiet", "SHA256SUMS"], cwd=stick).returncode == 0


def test_installs_with_no_network(stick, tmp_path):
    require_unshare_net()
    # The download attempt runs in the install's own namespace: if it got through, exit 97 says so.
    result = install(stick, tmp_path, first=f"{sys.executable} -c \"{DOWNLOAD}\" 2>/dev/null && exit 97")
    assert result.returncode != 97, "a download from PyPI worked inside the namespace: the test proves nothing"
    out = installed_ok(result)
    assert "self-check passed" in out
    assert re.search(rf"fieldkit {re.escape(VERSION)} installed in \d+ s", out)
    assert current(tmp_path) == f"releases/{VERSION}"
    launcher = tmp_path / "bin" / "fieldkit"
    assert launcher.is_symlink() and os.readlink(launcher) == str(tmp_path / "prefix" / "current" / "bin" / "fieldkit")
    assert VERSION in fieldkit(tmp_path, "--version").stdout
    data = tmp_path / "data"
    assert data.stat().st_mode & 0o777 == 0o700 and not any(data.iterdir())  # the self-check's clinic went elsewhere

    again = installed_ok(install(stick, tmp_path))  # the same stick twice: checked again, nothing rebuilt
    assert "already the current release" in again and "self-check passed" in again
    assert current(tmp_path) == f"releases/{VERSION}" and releases(tmp_path) == {VERSION}


def test_a_changed_missing_or_added_file_refuses_everything(stick, tmp_path):
    copy = shutil.copytree(stick, tmp_path / "stick")
    wheel = max((copy / "wheelhouse" / "x86_64").glob("*.whl"), key=lambda path: path.stat().st_size)
    original = wheel.read_bytes()
    flip_byte(wheel)
    refused = install(copy, tmp_path)
    assert refused.returncode != 0
    assert refused.stderr.count("\n") == 1, refused.stderr  # one line
    assert f"wheelhouse/x86_64/{wheel.name} (changed)" in refused.stderr and "nothing was installed" in refused.stderr
    wheel.write_bytes(original)
    wheel.unlink()
    refused = install(copy, tmp_path)
    assert refused.returncode != 0 and f"{wheel.name} (missing)" in refused.stderr, refused.stderr
    wheel.write_bytes(original)
    (copy / "wheelhouse" / "x86_64" / "extra-1.0-py3-none-any.whl").write_bytes(b"PK")
    refused = install(copy, tmp_path)
    assert refused.returncode != 0 and "does not list: wheelhouse/x86_64/extra-1.0" in refused.stderr, refused.stderr
    assert releases(tmp_path) == set() and current(tmp_path) is None
    assert not (tmp_path / "bin" / "fieldkit").exists() and not (tmp_path / "data").exists()


def test_without_python_311_it_says_what_to_install(stick, tmp_path):
    refused = install(stick, tmp_path, env={"PYTHON": str(tmp_path / "no-python")})
    assert refused.returncode != 0 and "apt-get install python3.11-venv" in refused.stderr
    assert current(tmp_path) is None and not (tmp_path / "data").exists()


def test_upgrade_keeps_the_data_and_the_previous_release(stick, tmp_path):
    old, new, newest, broken = VERSION, f"{VERSION}.post1", f"{VERSION}.post2", f"{VERSION}.post9"
    installed_ok(install(stick, tmp_path))
    assert fieldkit(tmp_path, "init", "--supervisor", "amina").returncode == 0
    added = fieldkit(tmp_path, "patient", "add", "--given", "Lan", "--family", "Nguyen", "--age", "34")
    assert added.returncode == 0, added.stderr
    patient = added.stdout.strip()
    data = snapshot(tmp_path / "data")
    assert "clinic.db" in data and "keystore.db" in data

    tampered = newer_stick(stick, tmp_path / "tampered", new)
    flip_byte(tampered / "wheelhouse" / "x86_64" / f"fieldkit-{new}-py3-none-any.whl")
    assert install(tampered, tmp_path).returncode != 0
    assert current(tmp_path) == f"releases/{old}" and releases(tmp_path) == {old}

    failing = install(newer_stick(stick, tmp_path / "broken", broken, broken_check=True), tmp_path)
    assert failing.returncode != 0 and f"self-check of fieldkit {broken} failed" in failing.stderr, failing.stderr
    assert current(tmp_path) == f"releases/{old}" and releases(tmp_path) == {old}
    assert old in fieldkit(tmp_path, "--version").stdout

    out = installed_ok(install(newer_stick(stick, tmp_path / "newer", new), tmp_path))
    assert current(tmp_path) == f"releases/{new}" and releases(tmp_path) == {old, new}
    assert "(kept as it is)" in out
    assert snapshot(tmp_path / "data") == data  # the installer never touched the clinic
    assert new in fieldkit(tmp_path, "--version").stdout
    checked = fieldkit(tmp_path, "db", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert patient in fieldkit(tmp_path, "patient", "search", "Lan", "Nguyen").stdout

    out = installed_ok(install(newer_stick(stick, tmp_path / "newest", newest), tmp_path))
    assert releases(tmp_path) == {new, newest}  # the one before the previous is pruned
    rollback = re.search(r"to go back to .*: (ln -sfn \S+ \S+)", out)
    assert rollback, out
    subprocess.run(rollback.group(1), shell=True, check=True, cwd="/")
    assert new in fieldkit(tmp_path, "--version").stdout


def test_the_lock_step_refuses_a_lock_that_no_longer_matches_pyproject(tmp_path):
    step = STAGE0 / "00-lock" / "00-run.sh"
    pyproject = (REPO / "pyproject.toml").read_text()

    def run_with(text: str) -> subprocess.CompletedProcess[str]:
        source = tmp_path / "src"
        source.mkdir(exist_ok=True)
        (source / "pyproject.toml").write_text(text)
        return subprocess.run([str(step)], capture_output=True, text=True,
                              env={**os.environ, "OUT": str(tmp_path / "out"), "SRC": str(source)})

    assert run_with(pyproject).returncode == 0
    assert (tmp_path / "out" / "requirements.lock").read_text() == LOCK.read_text()
    added = run_with(pyproject.replace('"click>=8.1",', '"click>=8.1",\n    "tomli-w>=1.0",'))
    assert added.returncode != 0 and "tomli-w>=1.0 is a dependency but not in the lock" in added.stderr
    raised = run_with(pyproject.replace('"click>=8.1"', '"click>=99"'))
    assert raised.returncode != 0 and "click>=99 is a dependency but the lock pins click==" in raised.stderr
    removed = run_with(re.sub(r'\n    "segno[^\n]*', "", pyproject))
    assert removed.returncode != 0 and "the lock pins segno==" in removed.stderr
