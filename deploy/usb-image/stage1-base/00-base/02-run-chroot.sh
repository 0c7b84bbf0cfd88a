#!/usr/bin/env bash
# No downloaded package files or indexes left in the image (not part of the live image's hook:
# live-build still needs its indexes afterwards).
set -euo pipefail
apt-get clean
rm -rf /var/lib/apt/lists/*
