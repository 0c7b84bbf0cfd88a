"""The bootable field image (deploy/usb-image, pi-gen-style stages).

Quick, as any user: the stage layout (every step has a run script or a package list, the lists
hold no duplicates, the systemd units pass `systemd-analyze verify`), and the sync unit's wrapper
really serving while a `fieldkit unlock` session lasts and stopping when it ends.

Slow, as root (`image` marker): build.sh builds stages 1-3 into a tmp WORK from the session's
stick (tests/deploy/conftest.py's `stick`), with debootstrap's result cached in
FIELDKIT_IMAGE_CACHE (~/.cache/fieldkit-image): inside the chroot, the stick's install.sh ran with
no network, `fieldkit --help` and the clinic-screen smoke test (deploy/usb-image/smoke.py) exited 0;
a second run skips every step; stage3's console font covers the scripts it is chosen for.
Without root or debootstrap they skip, unless FIELDKIT_REQUIRE_TOOLS=1 (CI), where they fail.
"""

from __future__ import annotations

import configparser
import gzip
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deploy.conftest import require_root, require_tool, require_unshare_net

REPO = Path(__file__).resolve().parents[2]
IMAGE = REPO / "deploy" / "usb-image"
BUILD = IMAGE / "build.sh"
OUR_STAGES = ["stage1-base", "stage2-fieldkit", "stage3-console", "stage4-live"]
SYNC = IMAGE / "stage3-console" / "02-sync" / "files"
FIELDKIT = Path(sys.executable).with_name("fieldkit")


# -- the layout, as any user ------------------------------------------------------------------


def steps() -> list[Path]:
    return sorted(step for stage in OUR_STAGES for step in (IMAGE / stage).glob("[0-9][0-9]-*") if step.is_dir())


def package_lists() -> list[Path]:
    live = IMAGE / "stage4-live" / "00-config" / "files" / "live-packages"
    return [*sorted(IMAGE.glob("stage*/[0-9][0-9]-*/[0-9][0-9]-packages")), live]


def packages(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_every_step_has_a_run_script_or_a_package_list():
    assert len(steps()) >= 7
    for step in steps():
        scripts = [*step.glob("[0-9][0-9]-run.sh"), *step.glob("[0-9][0-9]-run-chroot.sh")]
        assert scripts or list(step.glob("[0-9][0-9]-packages")), f"{step} does nothing"
        for script in scripts:
            assert os.access(script, os.X_OK), f"{script} is not executable"
            assert script.read_text().startswith("#!/usr/bin/env bash\n"), script
            assert "set -euo pipefail" in script.read_text(), script
    assert (IMAGE / "stage4-live" / "EXPORT_IMAGE").exists()
    assert not any((IMAGE / stage / "SKIP").exists() for stage in OUR_STAGES)


def test_package_lists_hold_each_package_once():
    seen: dict[str, Path] = {}
    for path in package_lists():
        names = packages(path)
        assert names, f"{path} is empty"
        assert len(names) == len(set(names)), f"{path} repeats a package"
        for name in names:
            assert name not in seen, f"{name} is in both {seen[name]} and {path}"
            seen[name] = path
    assert {"python3", "python3-venv", "locales", "console-setup", "systemd-sysv", "live-boot"} <= set(seen)


def rendered_units(root: Path) -> list[Path]:
    """The units and their wrapper as stage3 installs them, under `root`, beside this machine's
    own system units (the targets they name)."""
    shutil.copytree("/lib/systemd/system", root / "lib/systemd/system", symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    (root / "usr/local/bin").mkdir(parents=True)
    shutil.copy(SYNC / "fieldkit-sync-while-unlocked", root / "usr/local/bin")
    units = []
    for name in ("fieldkit-sync.path", "fieldkit-sync.service"):
        unit = root / "etc/systemd/system" / name
        unit.write_text((SYNC / name).read_text().replace("@CLINIC_USER@", "clinic"))
        units.append(unit)
    return units


def test_the_sync_units_have_what_systemd_needs(tmp_path):
    path_unit, service = rendered_units(tmp_path)
    for unit, needed in ((path_unit, {"Unit": ["Description"], "Path": ["PathExists", "Unit"], "Install": ["WantedBy"]}),
                         (service, {"Unit": ["Description"], "Service": ["ExecStart", "User", "Environment"]})):
        parsed = configparser.ConfigParser(strict=False, interpolation=None)
        parsed.optionxform = str  # type: ignore[assignment,method-assign]  # systemd's keys are case-sensitive
        parsed.read_string(unit.read_text())
        for section, keys in needed.items():
            assert all(parsed.has_option(section, key) for key in keys), (unit.name, section)
    analyze = require_tool("systemd-analyze", "systemd")
    done = subprocess.run([analyze, "verify", f"--root={tmp_path}", "/etc/systemd/system/fieldkit-sync.path",
                           "/etc/systemd/system/fieldkit-sync.service"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "fieldkit-sync.service" in path_unit.read_text()


def test_the_build_scripts_pass_shellcheck():
    scripts = [BUILD, IMAGE / "config", SYNC / "fieldkit-sync-while-unlocked",
               IMAGE / "stage3-console/01-clinic-user/files/fieldkit-session",
               *IMAGE.glob("stage[1-4]-*/*.sh"), *IMAGE.glob("stage[1-4]-*/*/*.sh")]
    done = subprocess.run([require_tool("shellcheck"), "-x", *map(str, scripts)], capture_output=True, text=True, cwd=IMAGE)
    assert done.returncode == 0, done.stdout


def test_build_sh_refuses_to_run_without_root():
    if os.geteuid() == 0:
        done = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "bash", str(BUILD)],
                              capture_output=True, text=True)
    else:
        done = subprocess.run(["bash", str(BUILD)], capture_output=True, text=True)
    assert done.returncode == 1
    assert "needs root" in done.stderr


# -- the sync unit's wrapper, with the real fieldkit ---------------------------------------------


def wait_for(path: Path, text: str, seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if text in (found := path.read_text()):
            return found
        time.sleep(0.1)
    raise AssertionError(f"never saw {text!r} in:\n{path.read_text()}")


@pytest.mark.slow
def test_sync_serves_while_the_clinic_is_unlocked_and_stops_with_the_session(tmp_path):
    home = tmp_path / "clinic"
    env = {**os.environ, "FIELDKIT_HOME": str(home), "PATH": f"{FIELDKIT.parent}:{os.environ['PATH']}",
           "FIELDKIT_SYNC_CHECK_SECONDS": "0.5"}
    env.pop("FIELDKIT_PASSPHRASE", None)

    def fieldkit(*args: str, passphrase: str | None = None) -> None:
        extra = {"FIELDKIT_PASSPHRASE": passphrase} if passphrase else {}
        subprocess.run([str(FIELDKIT), *args], env=env | extra, check=True, capture_output=True, text=True)

    fieldkit("init", "--supervisor", "amina", passphrase="image test 2026")
    fieldkit("network", "create", "field", passphrase="image test 2026")
    log = tmp_path / "wrapper.log"
    wrapper = [str(SYNC / "fieldkit-sync-while-unlocked"), "--host", "127.0.0.1", "--port", "0",
               "--interface", "127.0.0.1"]

    # No session: nothing to serve, and no passphrase asked for.
    with log.open("w") as out:
        assert subprocess.run(wrapper, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=30).returncode == 0
    assert log.read_text().strip() == "no unlocked session"

    fieldkit("unlock", "--for", "5m", passphrase="image test 2026")
    with log.open("w") as out:
        process = subprocess.Popen(wrapper, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        served = re.search(r"on 127\.0\.0\.1:(\d+)$", wait_for(log, "serving network"), re.MULTILINE)
        assert served, log.read_text()
        port = int(served.group(1))
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # `sync serve` accepts peers
        fieldkit("lock")
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
    said = log.read_text()
    assert "unlocked: serving" in said and "the session ended: sync stopped" in said, said
    assert said.rstrip().endswith("no unlocked session")
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


# -- the image's chroot stages, as root ---------------------------------------------------------


def build(work: Path, stick: Path | None, *stages: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WORK": str(work), "STICK": str(stick or work / "no-stick")}
    started = time.monotonic()
    done = subprocess.run(["bash", str(BUILD), "--only", ",".join(stages)], env=env, capture_output=True,
                          text=True, timeout=3600)
    print(f"build.sh --only {','.join(stages)}: exit {done.returncode} in {time.monotonic() - started:.0f} s",
          file=sys.stderr)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return done


def need_image_tools() -> None:
    require_root("build.sh runs debootstrap, chroot and bind mounts")
    require_unshare_net()
    require_tool("debootstrap")
    require_tool("zstd")


@pytest.mark.slow
@pytest.mark.image
def test_stages_1_2_install_the_stick_with_no_network_and_run_the_clinic_screen(tmp_path, stick):
    need_image_tools()
    work = tmp_path / "work"
    build(work, Path(stick), "stage1", "stage2")
    rootfs = work / "rootfs"

    said = (work / "logs" / "stage2-install.log").read_text()
    assert said.splitlines()[0] == "network interfaces: lo ", said  # an empty network namespace
    assert "install.sh exit 0" in said
    assert (rootfs / "opt/fieldkit-stick/install.sh").is_file()  # kept: a laptop re-installs from it
    assert (rootfs / "opt/fieldkit-stick/SHA256SUMS").is_file()
    assert os.path.lexists(rootfs / "usr/local/bin/fieldkit")
    assert not list(rootfs.glob("proc/[0-9]*")), "/proc is still mounted in the chroot"
    assert not (rootfs / "dev/pts/ptmx").exists(), "/dev is still mounted in the chroot"
    locales = subprocess.run(["chroot", str(rootfs), "locale", "-a"], capture_output=True, text=True, check=True)
    assert {"ar_EG.utf8", "fa_IR.utf8", "vi_VN.utf8", "fr_FR.utf8", "en_US.utf8"} <= set(locales.stdout.split())

    said = (work / "logs" / "stage2-smoke.log").read_text()
    assert "fieldkit --help exit 0: Usage: fieldkit" in said, said
    for step in ("ok: demo clinic created", "ok: sign-in screen (UnlockScreen)",
                 "ok: clinic screen (HomeScreen) after the demo passphrase", "ok: search for "):
        assert step in said, said
    assert "smoke.py exit 0 (/" in said and "FAILED" not in said

    # Again: every step's marker is there, so nothing runs twice.
    markers = sorted(path.name for path in (work / "markers").iterdir())
    assert markers == ["stage1-base-00-base.done", "stage1-base-prerun.done", "stage2-fieldkit-00-install.done",
                       "stage2-fieldkit-01-smoke.done"]
    started = time.monotonic()
    again = build(work, Path(stick), "stage1", "stage2")
    assert time.monotonic() - started < 30
    assert again.stdout.count("done before, skipped") == 3, again.stdout
    assert "prerun" not in again.stdout and "debootstrap" not in again.stdout and "install.sh" not in again.stdout


def font_characters(path: Path) -> set[str]:
    """The characters a console font's Unicode table maps to its glyphs (PSF1, as console-setup's
    fonts are, or PSF2)."""
    data = gzip.decompress(path.read_bytes())
    if data[:2] == b"\x36\x04":  # PSF1: 256 or 512 glyphs, then a table of UCS-2 values
        mode, size = data[2], data[3]
        assert mode & 0x02, f"{path.name} has no Unicode table"
        table = data[4 + (512 if mode & 0x01 else 256) * size:]
        values = struct.unpack(f"<{len(table) // 2}H", table[: len(table) // 2 * 2])
        return {chr(value) for value in values if value < 0xFFFE}
    magic, _version, header, flags, glyphs, size, _height, _width = struct.unpack("<8I", data[:32])
    assert magic == 0x864AB572 and flags & 1, f"{path.name}: not a console font with a Unicode table"
    table = data[header + glyphs * size:]
    return {char for entry in table.split(b"\xff") for char in entry.split(b"\xfe")[0].decode()}


@pytest.mark.slow
@pytest.mark.image
def test_stage3_signs_the_clinic_user_into_fieldkit_on_tty1(tmp_path):
    need_image_tools()
    work = tmp_path / "work"
    build(work, None, "stage1", "stage3")  # stage3 needs no fieldkit installed to be checked
    rootfs = work / "rootfs"
    clinic = next(line for line in (rootfs / "etc/passwd").read_text().splitlines() if line.startswith("clinic:"))
    assert clinic.endswith(":/home/clinic:/usr/local/bin/fieldkit-session")
    assert "/usr/local/bin/fieldkit-session" in (rootfs / "etc/shells").read_text().split()
    assert "exec /usr/local/bin/fieldkit" in (rootfs / "usr/local/bin/fieldkit-session").read_text()
    getty = (rootfs / "etc/systemd/system/getty@tty1.service.d/autologin.conf").read_text()
    assert "--autologin clinic" in getty and "\nExecStart=\n" in getty
    assert (rootfs / "etc/systemd/system/multi-user.target.wants/fieldkit-sync.path").is_symlink()
    analyze = subprocess.run([require_tool("systemd-analyze", "systemd"), "verify", f"--root={rootfs}",
                              "/etc/systemd/system/fieldkit-sync.path", "/etc/systemd/system/fieldkit-sync.service",
                              "getty@tty1.service"], capture_output=True, text=True)
    assert analyze.returncode == 0, analyze.stderr

    # The console font stage3 chose covers Arabic and Persian letters and their joined forms
    # (what `app` right-to-left mode draws), and, through the names stage3 added, the block
    # elements Textual draws input fields with; Vietnamese needs the other codeset.
    setup = (rootfs / "etc/default/console-setup").read_text()
    assert 'CODESET="Arabic"' in setup and 'FONTFACE="Fixed"' in setup and 'FONTSIZE="8x16"' in setup
    assert 'FONT="Arabic-Fixed16-fieldkit.psf.gz"' in setup
    fonts = rootfs / "usr/share/consolefonts"
    arabic = font_characters(fonts / "Arabic-Fixed16-fieldkit.psf.gz")
    assert set("ابتثجحخدذرزسشصضطظعغفقكلمنهوي") | set("پچژگکی") <= arabic
    assert {chr(c) for c in range(0xFE80, 0xFEFD)} <= arabic  # presentation forms B: joined letters
    assert set("0123456789:.%─│┌┐└┘") <= arabic
    assert set("▁▔▊▎▌▐") <= arabic
    assert not set("▁▔▊▎") & font_characters(fonts / "Arabic-Fixed16.psf.gz")  # what the names add
    vietnamese = font_characters(fonts / "Vietnamese-Fixed16.psf.gz")
    assert set("ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ") <= vietnamese
    assert not set("ỹ") <= arabic
