#!/usr/bin/env bash
# Builds the offline installer's folder (copy it to a USB stick as it is):
#     deploy/usb-image/build-stick.sh OUT_DIR
# Runs stage0-stick's steps in order, as build.sh's stage0 does. Needs the network (PyPI) and
# python3.11 with pip or venv; re-running it rebuilds OUT_DIR from pip's cache.
# ARCHS="x86_64" leaves out aarch64; SRC=DIR builds fieldkit's wheel from another source tree.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 OUT_DIR" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
OUT=$1
export OUT
for step in "$here"/stage0-stick/[0-9][0-9]-*/; do
    if [ -x "$step/00-run.sh" ]; then
        "$step/00-run.sh"
    fi
done
