#!/usr/bin/env bash
# The stick folder into the image (/opt/fieldkit-stick, kept there: a laptop can be re-installed
# from the image's own copy), then its install.sh inside the chroot with no network at all: what
# the stick lacks fails here, not in the field.
set -euo pipefail

if [ ! -f "$STICK/install.sh" ]; then
    echo "no stick in $STICK: run deploy/usb-image/build-stick.sh $STICK (or build stage0) first" >&2
    exit 1
fi
mkdir -p "$WORK/logs"
rm -rf "$ROOTFS/opt/fieldkit-stick"
mkdir -p "$ROOTFS/opt"
cp -a "$STICK" "$ROOTFS/opt/fieldkit-stick"

log="$WORK/logs/stage2-install.log"
# The interfaces the install saw (only "lo", down, in an empty network namespace) go in the log
# before install.sh's own output: the build's proof that nothing was fetched.
on_chroot --no-net /bin/sh -c "
    echo \"network interfaces: \$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\n' ' ')\"
    cd /opt/fieldkit-stick && sh ./install.sh --prefix '$FIELDKIT_PREFIX' --bin-dir '$FIELDKIT_BIN_DIR'
    echo \"install.sh exit \$?\"
" 2>&1 | tee "$log"
grep -q '^install.sh exit 0$' "$log"
