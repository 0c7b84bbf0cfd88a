#!/usr/bin/env bash
# The console's font and keyboard (console-setup, applied at boot by its own unit).
set -euo pipefail
sed "s/@CODESET@/$CONSOLE_CODESET/" files/console-setup > "$ROOTFS/etc/default/console-setup"
install -m 644 files/keyboard "$ROOTFS/etc/default/keyboard"
