# Sourced by every stage0-stick step (from build-stick.sh, or from build.sh's stage0): where the
# source, the stick folder and a pip to build with are. The caller sets OUT (build.sh: OUT=$STICK).
# shellcheck shell=bash
STAGE0=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$STAGE0/../../.." && pwd)
SRC=${SRC:-$REPO}  # fieldkit's source tree; a test builds a newer stick from a copy with a bumped version
WORK=${WORK:-$REPO/deploy/usb-image/work}
# aarch64 is built when every wheel exists for it (all do for this lock); by default a missing one
# only warns and leaves that folder out, while an ARCHS someone set explicitly must be met.
if [ -z "${ARCHS:-}" ]; then
    ARCHS="x86_64 aarch64" OPTIONAL_ARCHS="aarch64"
fi
OPTIONAL_ARCHS=${OPTIONAL_ARCHS:-}
: "${OUT:?OUT must name the stick folder to build}"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# pip reads the host's pip.conf and PIP_* (extra indexes, find-links, constraints) otherwise; the
# hashes would catch a stranger's file, but the stick should not depend on how this host is set up.
while IFS= read -r name; do unset "$name"; done < <(env | sed -n 's/^\(PIP_[A-Z0-9_]*\)=.*/\1/p')
export PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1
if [ -r /etc/ssl/certs/ca-certificates.crt ]; then
    export PIP_CERT=/etc/ssl/certs/ca-certificates.crt
fi

build_pip() {
    # Any CPython with pip does: the wheels are chosen by the flags, not by the building interpreter.
    if [ -z "${BUILD_PYTHON:-}" ]; then
        if python3.11 -m pip --version >/dev/null 2>&1; then
            BUILD_PYTHON=python3.11
        else
            [ -x "$WORK/build-venv/bin/python" ] || python3.11 -m venv "$WORK/build-venv"
            BUILD_PYTHON=$WORK/build-venv/bin/python
        fi
    fi
    "$BUILD_PYTHON" -m pip "$@"
}
