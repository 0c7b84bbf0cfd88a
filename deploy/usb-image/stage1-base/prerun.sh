#!/usr/bin/env bash
# Debian (minbase) into $ROOTFS with stage1's packages. debootstrap's result is kept as a tarball in
# $CACHE, keyed by suite, architecture, mirror and package list: a second build unpacks it instead
# of downloading again (delete the tarball to refresh the packages).
set -euo pipefail

list="$STAGE_DIR/00-base/00-packages"
include=$(grep -v '^[[:space:]]*\(#\|$\)' "$list" | sort | paste -sd, -)
key=$(printf '%s\n' "$SUITE" "$ARCH" "$MIRROR" "$include" | sha256sum | cut -c1-12)
tarball="$CACHE/rootfs-$SUITE-$ARCH-minbase-$key.tar.zst"

if findmnt -rno TARGET | grep -q "^$ROOTFS/"; then
    echo "something is still mounted under $ROOTFS: unmount it first" >&2
    exit 1
fi
rm -rf "$ROOTFS"
# a new root filesystem: whatever later steps did to the old one is gone
find "$WORK/markers" -name "stage[1-9]*" ! -name "stage1-base-prerun.done" -delete
mkdir -p "$ROOTFS" "$CACHE"

if [ -f "$tarball" ]; then
    log "  unpacking the cached root filesystem $tarball"
    tar --zstd -xpf "$tarball" --numeric-owner -C "$ROOTFS"
else
    log "  debootstrap --variant=minbase $SUITE from $MIRROR (cache: $tarball)"
    debootstrap --variant=minbase --arch="$ARCH" --include="$include" "$SUITE" "$ROOTFS" "$MIRROR"
    # a file of this build's own, renamed whole: two builds at once never read a half-written cache
    tar --zstd -cpf "$tarball.$$.part" --numeric-owner -C "$ROOTFS" .
    mv "$tarball.$$.part" "$tarball"
fi

# Services a package installs are not started inside the build's chroot (the host's would clash).
printf '#!/bin/sh\nexit 101\n' > "$ROOTFS/usr/sbin/policy-rc.d"
chmod 755 "$ROOTFS/usr/sbin/policy-rc.d"
