#!/usr/bin/env bash
# The installed fieldkit, tried inside the chroot with no network: `fieldkit --help`, then the
# clinic-screen smoke test (smoke.py) run by the installed venv's own Python. The step fails, and
# the build stops, unless both exit 0; their output is kept in $WORK/logs/stage2-smoke.log.
set -euo pipefail

mkdir -p "$WORK/logs"
log="$WORK/logs/stage2-smoke.log"
cp "$BASE_DIR/smoke.py" "$ROOTFS/tmp/fieldkit-smoke.py"
on_chroot --no-net /bin/sh -c "
    set -u
    fieldkit=\$(command -v fieldkit) || { echo 'fieldkit is not on PATH'; exit 1; }
    python=\$(head -1 \"\$(readlink -f \"\$fieldkit\")\" | sed 's/^#! *//')
    case \$python in */python*) ;; *) python='$FIELDKIT_PREFIX/bin/python' ;; esac
    fieldkit --help > /tmp/fieldkit-help.txt
    echo \"fieldkit --help exit \$?: \$(head -1 /tmp/fieldkit-help.txt)\"
    work=\$(mktemp -d /tmp/fieldkit-smoke.XXXXXX)
    \"\$python\" /tmp/fieldkit-smoke.py \"\$work\"
    echo \"smoke.py exit \$? (\$python)\"
    rm -rf \"\$work\" /tmp/fieldkit-help.txt /tmp/fieldkit-smoke.py
" 2>&1 | tee "$log"
grep -q '^fieldkit --help exit 0: ' "$log"
grep -q '^smoke.py exit 0 ' "$log"
