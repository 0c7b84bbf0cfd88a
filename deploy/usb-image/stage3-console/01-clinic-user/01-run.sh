#!/usr/bin/env bash
# The clinic user's login shell and tty1's autologin into it.
set -euo pipefail
install -m 755 files/fieldkit-session "$ROOTFS/usr/local/bin/fieldkit-session"
install -d "$ROOTFS/etc/systemd/system/getty@tty1.service.d"
sed "s/@CLINIC_USER@/$CLINIC_USER/" files/autologin.conf > "$ROOTFS/etc/systemd/system/getty@tty1.service.d/autologin.conf"
