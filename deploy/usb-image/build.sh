#!/usr/bin/env bash
# Builds the fieldkit field image by walking stage0..stageN in order, as pi-gen does (README.md).
# Needs root: debootstrap, chroot and bind mounts.
#
#   sudo deploy/usb-image/build.sh                       every stage, the hybrid ISO at the end
#   sudo deploy/usb-image/build.sh --only stage1,stage2  just those stages (a test's root filesystem)
#   sudo deploy/usb-image/build.sh --until stage3        stop after stage3
#
# A stage holding a SKIP file is skipped; one holding EXPORT_IMAGE produces the image. Inside a
# stage, each step NN-name/ runs, for each number in its file names in order: NN-packages (apt in
# the chroot, one package per line), NN-run.sh (on the host), NN-run-chroot.sh (in the chroot). A
# stage's prerun.sh runs before its steps. $WORK/markers/<stage>-<step>.done records a finished
# step, so a second run does only what is left (delete a marker, or $WORK, to redo).
set -euo pipefail

BASE_DIR=$(cd "$(dirname "$0")" && pwd)
export BASE_DIR

usage() {
    echo "usage: sudo $0 [--only stageN[,stageM...]] [--until stageN]" >&2
}

ONLY="" UNTIL=""
while [ $# -gt 0 ]; do
    case $1 in
        --only) ONLY="${ONLY:+$ONLY,}${2:?}"; shift 2 ;;
        --until) UNTIL=${2:?}; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage; exit 2 ;;
    esac
done

if [ "$(id -u)" != 0 ]; then
    echo "build.sh needs root (debootstrap, chroot and bind mounts): run it with sudo" >&2
    exit 1
fi

# shellcheck source=SCRIPTDIR/config
. "$BASE_DIR/config"
export SUITE ARCH MIRROR PYTHON_VERSION IMAGE_NAME WORK STICK ROOTFS DEPLOY CACHE CLINIC_USER CONSOLE_CODESET BOOTAPPEND BOOTAPPEND_EXTRA \
    FIELDKIT_PREFIX FIELDKIT_BIN_DIR
export LANG=C.UTF-8 LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive
mkdir -p "$WORK/markers" "$DEPLOY" "$CACHE"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
export -f log

# on_chroot [--no-net] [COMMAND...]: COMMAND (default: a bash script read from stdin) inside
# $ROOTFS, with /proc, /sys and /dev mounted for this call only. The mounts live in a private
# mount namespace, so they vanish with the call even if it is killed; the trap unmounts them
# explicitly too. --no-net adds an empty network namespace: nothing inside can reach a network.
on_chroot() {
    local unshare_args=(--mount --propagation private)
    if [ "${1:-}" = --no-net ]; then
        unshare_args+=(--net)
        shift
    fi
    if [ $# -eq 0 ]; then
        set -- /bin/bash -s
    fi
    if [ ! -x "$ROOTFS/bin/sh" ]; then
        echo "no root filesystem in $ROOTFS: build stage1 first" >&2
        return 1
    fi
    # shellcheck disable=SC2016  # expanded by the inner bash
    unshare "${unshare_args[@]}" -- /bin/bash -c '
        set -euo pipefail
        root=$1
        shift
        trap "umount -R \"\$root/dev\" \"\$root/sys\" \"\$root/proc\" 2>/dev/null || true" EXIT
        mount -t proc proc "$root/proc"
        mount --rbind /sys "$root/sys"
        mount --rbind /dev "$root/dev"
        chroot "$root" /usr/bin/env -i HOME=/root TERM="${TERM:-linux}" LANG=C.UTF-8 \
            DEBIAN_FRONTEND=noninteractive PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
            CLINIC_USER="$CLINIC_USER" FIELDKIT_PREFIX="$FIELDKIT_PREFIX" FIELDKIT_BIN_DIR="$FIELDKIT_BIN_DIR" "$@"
    ' on_chroot "$ROOTFS" "$@"
}
export -f on_chroot

# Packages of a list file not yet in the chroot: a rebuilt step whose packages are all there
# (debootstrap put them in) needs no network.
missing_packages() {
    local wanted
    wanted=$(grep -v '^[[:space:]]*\(#\|$\)' "$1" | tr '\n' ' ')
    # shellcheck disable=SC2086  # one word per package
    # shellcheck disable=SC2016  # dpkg-query's format, not the shell's
    on_chroot dpkg-query -W -f='${Package} ${Status}\n' $wanted 2>/dev/null \
        | awk '$NF == "installed" { print $1 }' | sort > "$WORK/.installed" || true
    tr ' ' '\n' <<< "$wanted" | grep -v '^$' | sort | comm -23 - "$WORK/.installed"
}

install_packages() {
    local list=$1 missing
    missing=$(missing_packages "$list" | tr '\n' ' ')
    if [ -z "${missing// /}" ]; then
        log "  $list: all installed"
        return 0
    fi
    log "  apt-get install $missing"
    cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
    # shellcheck disable=SC2086  # one word per package
    on_chroot /bin/sh -c "apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing && apt-get clean"
}

# names WORD STAGE: WORD, from --only or --until, names STAGE by its folder or its number
# (stage2-fieldkit or stage2).
names() {
    [ "$1" = "$2" ] || [ "$1" = "${2%%-*}" ]
}

selected() {
    local stage=$1 wanted
    if [ -n "$ONLY" ]; then
        for wanted in ${ONLY//,/ }; do
            if names "$wanted" "$stage"; then
                return 0
            fi
        done
        return 1
    fi
    return 0
}

run_step() {
    local stage=$1 step_dir=$2 step marker number
    step=$(basename "$step_dir")
    marker="$WORK/markers/$stage-$step.done"
    if [ -e "$marker" ]; then
        log "$stage/$step: done before, skipped"
        return 0
    fi
    log "$stage/$step"
    for number in $(find "$step_dir" -maxdepth 1 -name '[0-9][0-9]-*' -printf '%f\n' | cut -c1-2 | sort -u); do
        if [ -f "$step_dir/$number-packages" ]; then
            install_packages "$step_dir/$number-packages"
        fi
        if [ -f "$step_dir/$number-run.sh" ]; then
            log "  $number-run.sh"
            (cd "$step_dir" && STAGE_DIR="$BASE_DIR/$stage" STEP_DIR="$step_dir" "./$number-run.sh")
        fi
        if [ -f "$step_dir/$number-run-chroot.sh" ]; then
            log "  $number-run-chroot.sh (in the chroot)"
            on_chroot < "$step_dir/$number-run-chroot.sh"
        fi
    done
    touch "$marker"
}

run_stage() {
    local stage=$1 stage_dir="$BASE_DIR/$1" step_dir
    if [ -e "$stage_dir/SKIP" ]; then
        log "$stage: SKIP"
        return 0
    fi
    if [ -x "$stage_dir/prerun.sh" ] && [ ! -e "$WORK/markers/$stage-prerun.done" ]; then
        log "$stage/prerun.sh"
        (cd "$stage_dir" && STAGE_DIR="$stage_dir" ./prerun.sh)
        touch "$WORK/markers/$stage-prerun.done"
    fi
    for step_dir in "$stage_dir"/[0-9][0-9]-*/; do
        if [ -d "$step_dir" ]; then
            run_step "$stage" "${step_dir%/}"
        fi
    done
    if [ -e "$stage_dir/EXPORT_IMAGE" ]; then
        log "$stage: image in $DEPLOY"
    fi
}

# stage0 (the stick) writes into $STICK, as build-stick.sh does with its OUT_DIR
export OUT="$STICK"
started=$(date +%s)
for stage_dir in "$BASE_DIR"/stage[0-9]*/; do
    stage=$(basename "$stage_dir")
    if selected "$stage"; then
        run_stage "$stage"
    fi
    if [ -n "$UNTIL" ] && names "$UNTIL" "$stage"; then
        break
    fi
done
log "built in $(( $(date +%s) - started )) s"
