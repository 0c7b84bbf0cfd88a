#!/usr/bin/env bash
# LAN sync: a path unit that starts fieldkit-sync.service when the clinic user unlocks (README.md, "Sync").
set -euo pipefail
install -m 755 files/fieldkit-sync-while-unlocked "$ROOTFS/usr/local/bin/fieldkit-sync-while-unlocked"
for unit in fieldkit-sync.path fieldkit-sync.service; do
    sed "s/@CLINIC_USER@/$CLINIC_USER/g" "files/$unit" > "$ROOTFS/etc/systemd/system/$unit"
done
