#!/usr/bin/env bash
# Runs inside the chroot (build.sh's on_chroot): the five languages' locales, a default one.
# Debian lists fa_IR and vi_VN as "fa_IR UTF-8" (no .UTF-8 in the name): each line is written
# here as NAME.UTF-8, so LANG=fa_IR.UTF-8 works like the other three.
set -euo pipefail
for locale in ar_EG fa_IR vi_VN fr_FR en_US; do
    grep -qx "$locale.UTF-8 UTF-8" /etc/locale.gen || echo "$locale.UTF-8 UTF-8" >> /etc/locale.gen
done
locale-gen
update-locale LANG=en_US.UTF-8
echo fieldkit > /etc/hostname
