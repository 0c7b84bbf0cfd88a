#!/usr/bin/env bash
# The committed lock, checked against pyproject.toml first: a stick never ships a lock that has
# drifted from the dependencies fieldkit declares.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../common.sh
. "$(dirname "$0")/../common.sh"
python3 "$STAGE0/00-lock/check_lock.py" "$SRC/pyproject.toml" "$STAGE0/00-lock/requirements.lock"
cp "$STAGE0/00-lock/requirements.lock" "$OUT/requirements.lock"
