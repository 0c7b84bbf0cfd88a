#!/usr/bin/env bash
# The installer, VERSION (fieldkit's, read from the wheel built in 01) and SHA256SUMS over every
# other file on the stick, which install.sh checks before it does anything.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../common.sh
. "$(dirname "$0")/../common.sh"
wheels=("$OUT"/wheelhouse/*/fieldkit-*-py3-none-any.whl)
[ -e "${wheels[0]}" ] || { echo "02-installer: no fieldkit wheel in $OUT/wheelhouse (run 01-wheelhouse)" >&2; exit 1; }
version=$(basename "${wheels[0]}" | cut -d- -f2)
install -m 0755 "$STAGE0/02-installer/files/install.sh" "$OUT/install.sh"
printf '%s\n' "$version" > "$OUT/VERSION"
(cd "$OUT" && find . -type f ! -path ./SHA256SUMS ! -name '*.tmp' -printf '%P\0' | LC_ALL=C sort -z \
    | xargs -0 sha256sum > SHA256SUMS.tmp && mv SHA256SUMS.tmp SHA256SUMS)
echo "stick: fieldkit $version in $OUT"
