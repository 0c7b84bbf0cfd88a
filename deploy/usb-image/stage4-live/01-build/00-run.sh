#!/usr/bin/env bash
# lb build: several hundred MB downloaded the first time (kept in live-build's cache), 20 minutes
# or more. The ISO goes to $DEPLOY/$IMAGE_NAME.iso.
set -euo pipefail

cd "$WORK/live"
started=$(date +%s)
mkdir -p "$WORK/logs"
lb build 2>&1 | tee "$WORK/logs/stage4-lb-build.log"
iso="$IMAGE_NAME-$ARCH.hybrid.iso"  # live-build's name for it
mkdir -p "$DEPLOY"
mv "$iso" "$DEPLOY/$IMAGE_NAME.iso"
log "  $DEPLOY/$IMAGE_NAME.iso: $(du -h "$DEPLOY/$IMAGE_NAME.iso" | cut -f1) in $(( $(date +%s) - started )) s"
