#!/usr/bin/env bash
# live-build's configuration in $WORK/live: a hybrid ISO (BIOS through syslinux, UEFI through
# GRUB) with stages 1 and 3's packages, the files stages 2-3 put in the root filesystem, and one
# hook running the same chroot scripts and the stick's install.sh (no network used by it:
# install.sh installs from the stick's wheels only).
set -euo pipefail

live="$WORK/live"
if [ -d "$live/config" ]; then
    (cd "$live" && lb clean --binary --chroot --stage >/dev/null)  # keeps live-build's package cache
    rm -rf "$live/config"
fi
mkdir -p "$live"
cd "$live"
lb config \
    --mode debian --system live \
    --distribution "$SUITE" --architectures "$ARCH" \
    --archive-areas main \
    --mirror-bootstrap "$MIRROR" --mirror-chroot "$MIRROR" --mirror-binary "$MIRROR" \
    --mirror-chroot-security "${MIRROR%/debian}/debian-security" \
    --mirror-binary-security "${MIRROR%/debian}/debian-security" \
    --binary-images iso-hybrid \
    --bootloaders "grub-efi,syslinux" \
    --bootappend-live "$BOOTAPPEND${BOOTAPPEND_EXTRA:+ $BOOTAPPEND_EXTRA}" \
    --apt-recommends false --apt-indices false \
    --debian-installer none \
    --firmware-binary false --firmware-chroot false \
    --memtest none \
    --chroot-squashfs-compression-type zstd \
    --iso-application fieldkit --iso-volume FIELDKIT --image-name "$IMAGE_NAME" \
    --cache true

# The boot menus go on by themselves after 5 s (live-build's wait for a key forever): a laptop
# switched on in the field reaches the clinic screen with no one at the keyboard.
mkdir -p config/bootloaders
cp -a /usr/share/live/build/bootloaders/isolinux /usr/share/live/build/bootloaders/grub-pc config/bootloaders/
sed -i 's/^timeout 0$/timeout 50/' config/bootloaders/isolinux/isolinux.cfg  # tenths of a second
sed -i '1i set timeout=5' config/bootloaders/grub-pc/config.cfg
grep -qx 'timeout 50' config/bootloaders/isolinux/isolinux.cfg

# live.list.chroot replaces live-build's default (live-boot, live-config, live-config-systemd):
# live-config would add its own "user" with password-less sudo and its own tty autologin.
strip() { grep -hv '^[[:space:]]*\(#\|$\)' "$@"; }
strip "$BASE_DIR/stage4-live/00-config/files/live-packages" > config/package-lists/live.list.chroot
strip "$BASE_DIR"/stage1-base/*/[0-9][0-9]-packages "$BASE_DIR"/stage3-console/*/[0-9][0-9]-packages \
    | sort -u > config/package-lists/fieldkit.list.chroot

strip "$BASE_DIR/stage4-live/00-config/files/includes" | while read -r path; do
    if [ ! -e "$ROOTFS/$path" ]; then
        echo "$ROOTFS/$path is missing: build stages 1-3 first" >&2
        exit 1
    fi
    mkdir -p "config/includes.chroot/$(dirname "$path")"
    cp -a "$ROOTFS/$path" "config/includes.chroot/$path"
done

# One part per stage script, each in a subshell as build.sh's on_chroot would run it.
part() {
    echo "( # $1"
    grep -v '^#!' "$BASE_DIR/$1"
    echo ")"
}
# 9500: after live-build's own 9010-remove-python-pyc, which would drop the venv's bytecode
hook=config/hooks/normal/9500-fieldkit.hook.chroot
{
    echo '#!/bin/bash'
    echo '# Made by stage4-live/00-config/00-run.sh from the stage scripts named below.'
    echo 'set -euo pipefail'
    printf 'export CLINIC_USER=%q FIELDKIT_PREFIX=%q FIELDKIT_BIN_DIR=%q\n' \
        "$CLINIC_USER" "$FIELDKIT_PREFIX" "$FIELDKIT_BIN_DIR"
    part stage1-base/00-base/01-run-chroot.sh
    echo "( # stage2-fieldkit/00-install: the stick's installer, from the stick's wheels only"
    printf 'cd /opt/fieldkit-stick && sh ./install.sh --prefix %q --bin-dir %q\n)\n' "$FIELDKIT_PREFIX" "$FIELDKIT_BIN_DIR"
    part stage3-console/00-console/02-run-chroot.sh
    part stage3-console/01-clinic-user/02-run-chroot.sh
    part stage3-console/02-sync/02-run-chroot.sh
} > "$hook"
chmod 755 "$hook"
log "  live-build configuration in $live"
