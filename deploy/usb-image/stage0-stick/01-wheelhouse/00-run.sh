#!/usr/bin/env bash
# OUT/wheelhouse/<arch>/: every locked wheel for CPython 3.11 on manylinux (glibc up to Debian 12's
# 2.36), checked against the lock's hashes, and fieldkit's own wheel built from SRC. Each arch's
# folder is built aside and swapped in, so a re-run leaves no stale wheel; pip's cache makes it cheap.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../common.sh
. "$(dirname "$0")/../common.sh"
lock=$OUT/requirements.lock
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

platforms() {
    # pip does not widen an explicit manylinux_2_36 to the older tags (pip 23), so name every one.
    local glibc
    for glibc in $(seq 36 -1 17); do printf -- '--platform\nmanylinux_2_%s_%s\n' "$glibc" "$1"; done
    printf -- '--platform\nmanylinux2014_%s\n' "$1"
}

# The lock without the sdist-only names, downloaded as wheels; those names built from their sdist.
# SDIST_ONLY="name ..." stands in for the file (a test builds a pure-Python one from its sdist).
if [ -n "${SDIST_ONLY+set}" ]; then
    read -r -a sdist_only <<<"$SDIST_ONLY"
else
    mapfile -t sdist_only < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$STAGE0/01-wheelhouse/sdist-only")
fi
python3 "$STAGE0/lockfile.py" split "$lock" "$scratch/binary.lock" "$scratch/sdist" "${sdist_only[@]}"

mkdir -p "$scratch/built"
for requirement in "$scratch"/sdist/*.txt; do
    [ -e "$requirement" ] || break
    sdist=$scratch/sdists/$(basename "$requirement" .txt)
    build_pip download --quiet --no-deps --no-binary=:all: --require-hashes -r "$requirement" -d "$sdist"
    build_pip wheel --quiet --no-deps -w "$scratch/built" "$sdist"/*
done
for wheel in "$scratch"/built/*.whl; do
    [ -e "$wheel" ] || break
    python3 "$STAGE0/lockfile.py" add-hash "$lock" "$wheel"
done

# fieldkit from a copy of just what its wheel holds: building in SRC would leave build/ there.
mkdir -p "$scratch/src" "$scratch/fieldkit"
tar -C "$SRC" --exclude=__pycache__ -cf - pyproject.toml README.md fieldkit | tar -C "$scratch/src" -xf -
build_pip wheel --quiet --no-deps -w "$scratch/fieldkit" "$scratch/src"

built=""
for arch in $ARCHS; do
    partial=$OUT/wheelhouse/$arch.partial
    rm -rf "$partial"
    mkdir -p "$partial"
    mapfile -t flags < <(platforms "$arch")
    if ! build_pip download --quiet --no-deps --only-binary=:all: "${flags[@]}" --python-version 3.11 \
            --implementation cp --abi cp311 --abi abi3 --abi none --require-hashes -r "$scratch/binary.lock" \
            -d "$partial" 2>"$scratch/pip.err"; then
        rm -rf "$partial"
        missing=$(grep -m1 'No matching distribution' "$scratch/pip.err" || tail -n1 "$scratch/pip.err")
        case " $OPTIONAL_ARCHS " in
            *" $arch "*) echo "warning: no $arch wheelhouse ($missing); the stick installs on x86_64 only" >&2; continue ;;
            *) echo "01-wheelhouse: $arch: $missing" >&2; exit 1 ;;
        esac
    fi
    for wheel in "$scratch"/built/*.whl; do
        [ -e "$wheel" ] || break
        case $wheel in
            *-none-any.whl) cp "$wheel" "$partial/" ;;
            *) [ "$arch" = "$(uname -m)" ] || { echo "01-wheelhouse: $arch: cannot build $(basename "$wheel") for it here" >&2; exit 1; }
               cp "$wheel" "$partial/" ;;
        esac
    done
    cp "$scratch"/fieldkit/fieldkit-*.whl "$partial/"
    rm -rf "$OUT/wheelhouse/$arch"
    mv "$partial" "$OUT/wheelhouse/$arch"
    built="$built $arch"
done
# An arch dropped from ARCHS (or that failed this time) must not linger with an older lock's wheels.
for folder in "$OUT"/wheelhouse/*; do
    case " $built " in *" $(basename "$folder") "*) ;; *) rm -rf "$folder" ;; esac
done
echo "wheelhouse:$built ($(du -sm "$OUT/wheelhouse" | cut -f1) MB)"
