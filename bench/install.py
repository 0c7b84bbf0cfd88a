"""Installing fieldkit from the USB stick with no network, beside a plain pip install of the same lock.

    python bench/install.py [--stick DIR] [--runs N]      (root, for unshare --net)

  install    `sh install.sh` of a stick built by deploy/usb-image/build-stick.sh (x86_64), inside
             `unshare --net`: checking SHA256SUMS, the venv, every locked wheel and fieldkit's, the
             self-check (fieldkit --version, init and db check on a scratch clinic) and the switch
  baseline   `pip install --require-hashes -r requirements.lock` into a fresh venv from PyPI, pip's
             cache warm (the stick's build just filled it): the same wheels, no fieldkit, no check
  size       the stick's wheelhouse beside that plain install's site-packages, in MB
Target: the install under 5 minutes on two cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from figures import line  # noqa: E402

PYTHON = os.environ.get("PYTHON", "python3.11")


def megabytes(folder: Path) -> float:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) / 1e6


def timed(args: list[str], **kw) -> float:
    started = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True, **kw)
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stick", type=Path, help="an already built stick folder (default: build one)")
    parser.add_argument("--runs", type=int, default=1, help="installs of each kind (each takes about a minute)")
    options = parser.parse_args()
    if os.geteuid() != 0 or subprocess.run(["unshare", "--net", "true"], capture_output=True).returncode:
        sys.exit("bench/install.py needs root and a working `unshare --net`")
    with tempfile.TemporaryDirectory(prefix="bench-install-") as scratch:
        work = Path(scratch)
        stick = options.stick
        if stick is None:
            stick = work / "stick"
            subprocess.run([str(ROOT / "deploy" / "usb-image" / "build-stick.sh"), str(stick)], check=True,
                           env={**os.environ, "ARCHS": "x86_64", "WORK": str(work / "build")})
        lock = stick / "requirements.lock"
        installs, plains = [], []
        for run in range(options.runs):
            target = work / f"install{run}"
            installs.append(timed(["unshare", "--net", "sh", str(stick / "install.sh"), "--prefix", str(target / "prefix"),
                                   "--bin-dir", str(target / "bin"), "--data-dir", str(target / "data")]))
            venv = work / f"plain{run}"
            plains.append(timed(["sh", "-c", f'{PYTHON} -m venv "$0" && "$0/bin/pip" install --quiet --require-hashes -r "$1"',
                                 str(venv), str(lock)], env={**os.environ, "PIP_CONFIG_FILE": os.devnull}))
            if run < options.runs - 1:
                shutil.rmtree(target)
        line("install", installs, plains, "< 300000 ms (5 min)")
        site = next((work / f"plain{options.runs - 1}" / "lib").glob("python*/site-packages"))
        print(f"{'size':<10} wheelhouse {megabytes(stick / 'wheelhouse' / 'x86_64'):6.1f} MB   "
              f"plain pip install's site-packages {megabytes(site):6.1f} MB")


if __name__ == "__main__":
    main()
