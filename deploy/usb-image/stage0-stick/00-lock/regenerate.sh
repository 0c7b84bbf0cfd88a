#!/usr/bin/env bash
# Rewrites requirements.lock from pyproject.toml's [project].dependencies (not the test extras),
# pinned with every file's hash, for CPython 3.11 on linux x86_64. Run it after changing those
# dependencies, then rebuild the stick; commit the lock. Needs uv at build time only (`pip install uv`):
# the installer on the stick never does.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../../.." && pwd)
uv=${UV:-$(command -v uv || echo "$repo/.venv/bin/uv")}
cd "$repo"
# Relative paths keep the header's "via fieldkit (pyproject.toml)" the same on every machine.
"$uv" pip compile pyproject.toml --quiet --generate-hashes --python-version 3.11 \
    --python-platform x86_64-manylinux_2_17 \
    --custom-compile-command "deploy/usb-image/stage0-stick/00-lock/regenerate.sh" \
    -o deploy/usb-image/stage0-stick/00-lock/requirements.lock
