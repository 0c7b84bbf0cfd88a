#!/usr/bin/env bash
# fieldkit's offline installer: installs the fieldkit on this stick without any network.
#
#     sh install.sh [--prefix DIR] [--bin-dir DIR] [--data-dir DIR] [--user NAME]
#
# As root: PREFIX=/opt/fieldkit, BIN_DIR=/usr/local/bin, the data directory in NAME's home (NAME:
# --user, else whoever ran sudo, else root). Otherwise: ~/.local/lib/fieldkit, ~/.local/bin and
# ~/.local/share/fieldkit. Each version goes into PREFIX/releases/<version>/ and is checked there
# (fieldkit --version, init and db check on a scratch clinic) before PREFIX/current is switched to
# it; the release before it stays for a rollback:
#     ln -sfn releases/<previous version> PREFIX/current
# The data directory is created (0700) if missing; what is in it is never touched.
# PYTHON=/path/to/python3.11 picks the interpreter.

# `sh install.sh` on Debian is dash, which has no pipefail: carry on in bash.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail

fail() { echo "install.sh: $*" >&2; exit 1; }
usage() { sed -n '4p' "$0" | sed 's/^#  *//' >&2; exit 2; }

prefix="" bin_dir="" data_dir="" user=""
while [ $# -gt 0 ]; do
    case $1 in
        --prefix|--bin-dir|--data-dir|--user) [ $# -ge 2 ] || usage ;;&
        --prefix) prefix=$2; shift 2 ;;
        --bin-dir) bin_dir=$2; shift 2 ;;
        --data-dir) data_dir=$2; shift 2 ;;
        --user) user=$2; shift 2 ;;
        -h|--help) usage ;;
        *) echo "install.sh: unknown option $1" >&2; usage ;;
    esac
done

stick=$(cd "$(dirname "$0")" && pwd)
cd "$stick"

# 1. The stick as built, or nothing at all: a changed, missing or added file refuses the install.
[ -f SHA256SUMS ] || fail "SHA256SUMS is missing from $stick: nothing was installed; copy the stick again"
if ! report=$(LC_ALL=C sha256sum --check --strict --quiet SHA256SUMS 2>/dev/null); then
    bad=$(printf '%s\n' "$report" | sed -n 's/: FAILED open or read$/ (missing)/p; s/: FAILED$/ (changed)/p' | paste -sd, -)
    fail "these files on the stick do not match SHA256SUMS: ${bad:-SHA256SUMS unreadable}; nothing was installed; copy the stick again"
fi
extra=$(find . -type f ! -path ./SHA256SUMS -printf '%P\n' | LC_ALL=C sort \
    | comm -23 - <(sed 's/^[0-9a-f]*  //' SHA256SUMS | LC_ALL=C sort) | paste -sd, -)
[ -z "$extra" ] || fail "files on the stick that SHA256SUMS does not list: $extra; nothing was installed; copy the stick again"

version=$(cat VERSION)
arch=$(uname -m)
wheelhouse=$stick/wheelhouse/$arch
[ -d "$wheelhouse" ] || fail "this stick has no wheels for $arch (it has: $(find wheelhouse -mindepth 1 -maxdepth 1 -printf '%f '))"
fieldkit_wheel=$wheelhouse/fieldkit-$version-py3-none-any.whl
[ -f "$fieldkit_wheel" ] || fail "fieldkit-$version-py3-none-any.whl is not on the stick for $arch"

# 2. Who it is for and where it goes.
if [ "$(id -u)" -eq 0 ]; then
    user=${user:-${SUDO_USER:-root}}
    prefix=${prefix:-/opt/fieldkit}
    bin_dir=${bin_dir:-/usr/local/bin}
else
    [ -z "$user" ] || [ "$user" = "$(id -un)" ] || fail "only root can install for another user ($user)"
    user=$(id -un)
fi
home=$(getent passwd "$user" | cut -d: -f6) || fail "no user $user on this machine"
if [ "$(id -u)" -ne 0 ]; then
    prefix=${prefix:-$home/.local/lib/fieldkit}
    bin_dir=${bin_dir:-$home/.local/bin}
fi
data_dir=${data_dir:-$home/.local/share/fieldkit}

python=${PYTHON:-python3.11}
if ! "$python" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
    fail "fieldkit needs Python 3.11 with venv ($python is missing or not it): on Debian 12, apt-get install python3.11-venv"
fi

mkdir -p "$prefix/releases"
prefix=$(cd "$prefix" && pwd)
exec 9>"$prefix/.install.lock"
flock -n 9 || fail "another install into $prefix is running"

previous=""
if [ -L "$prefix/current" ]; then
    previous=$(basename "$(readlink "$prefix/current")")
fi
release=$prefix/releases/$version
scratch=$(mktemp -d)
made_release=""
cleanup() {
    rm -rf "$scratch"
    # A release that never became current is a failed attempt: leave nothing of it behind.
    if [ -n "$made_release" ] && [ "$(basename "$(readlink "$prefix/current" 2>/dev/null || true)")" != "$version" ]; then
        rm -rf "$release"
    fi
}
trap cleanup EXIT

# pip must see only the stick: no index, and none of this machine's pip.conf or PIP_* settings.
while IFS= read -r name; do unset "$name"; done < <(env | sed -n 's/^\(PIP_[A-Z0-9_]*\)=.*/\1/p')
export PIP_CONFIG_FILE=/dev/null PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1

# 3. The new release, in its own venv.
if [ "$previous" = "$version" ]; then
    echo "fieldkit $version is already the current release in $prefix: checking it"
else
    rm -rf "$release"  # a failed attempt's leftovers, or an old rollback target of the same version
    made_release=yes
    echo "installing fieldkit $version into $release"
    "$python" -m venv "$release"
    "$release/bin/python" -m pip install --quiet --find-links "$wheelhouse" --require-hashes \
        -r "$stick/requirements.lock" >"$scratch/pip.log" 2>&1 \
        || { tail -n 5 "$scratch/pip.log" >&2; fail "installing the locked wheels failed; current is unchanged"; }
    "$release/bin/python" -m pip install --quiet --no-deps "$fieldkit_wheel" >"$scratch/pip.log" 2>&1 \
        || { tail -n 5 "$scratch/pip.log" >&2; fail "installing fieldkit's wheel failed; current is unchanged"; }
fi

# 4. The self-check, with the new release, on a scratch clinic that is removed afterwards.
selfcheck() {
    local log=$scratch/self-check.log
    # errexit does not hold inside a subshell tested by ||, hence the &&s.
    (
        unset FIELDKIT_USER
        export FIELDKIT_HOME=$scratch/clinic FIELDKIT_PASSPHRASE="self-check $RANDOM$RANDOM"
        "$release/bin/fieldkit" --version | grep -F -- "$version" \
            && "$release/bin/fieldkit" init --supervisor self-check \
            && "$release/bin/fieldkit" db check
    ) >"$log" 2>&1 || { tail -n 5 "$log" >&2; return 1; }
}
selfcheck || fail "the self-check of fieldkit $version failed; current is unchanged${previous:+ (still $previous)}"
echo "self-check passed: fieldkit $version runs, creates a clinic and checks it"

# 5. Switch: a rename is atomic, so `current` is always the old release or the new one.
ln -sfn "releases/$version" "$prefix/.current.$$"
mv -T "$prefix/.current.$$" "$prefix/current"
mkdir -p "$bin_dir"
ln -sfn "$prefix/current/bin/fieldkit" "$bin_dir/.fieldkit.$$"
mv -T "$bin_dir/.fieldkit.$$" "$bin_dir/fieldkit"

# 6. The data directory: made if missing, owner-only; an existing one is left exactly as it is.
if [ ! -e "$data_dir" ]; then
    as_user=()
    if [ "$(id -u)" -eq 0 ] && [ "$user" != root ]; then as_user=(runuser -u "$user" --); fi
    "${as_user[@]}" mkdir -p "$(dirname "$data_dir")"
    "${as_user[@]}" mkdir -m 0700 "$data_dir"
    echo "data directory: $data_dir (new, 0700)"
else
    echo "data directory: $data_dir (kept as it is)"
fi

# 7. Keep the new release and the one before it; older ones go.
for folder in "$prefix"/releases/*/; do
    name=$(basename "$folder")
    if [ "$name" != "$version" ] && [ "$name" != "$previous" ]; then
        rm -rf "$folder"
    fi
done

echo "fieldkit $version installed in ${SECONDS} s: $bin_dir/fieldkit -> $prefix/current/bin/fieldkit"
if [ -n "$previous" ] && [ "$previous" != "$version" ]; then
    echo "to go back to $previous: ln -sfn releases/$previous $prefix/current"
fi
