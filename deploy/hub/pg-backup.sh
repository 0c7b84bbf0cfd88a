#!/usr/bin/env bash
# A custom-format dump (pg_dump -Fc) of the hub's PostgreSQL to a dated file; dumps older than
# FIELDKIT_HUB_BACKUP_DAYS days (14) are then removed. Run nightly by fieldkit-hub-pgdump.timer.
#
#   pg-backup.sh [DATABASE_URL]      default: $FIELDKIT_HUB_DATABASE, as the hub reads it
#   FIELDKIT_HUB_BACKUP_DIR          where the dumps go (/var/backups/fieldkit-hub)
#
# A dump holds every record in plaintext: keep the folder on an encrypted disk, like PostgreSQL's own.
set -euo pipefail

url=${1:-${FIELDKIT_HUB_DATABASE:-}}
dir=${FIELDKIT_HUB_BACKUP_DIR:-/var/backups/fieldkit-hub}
days=${FIELDKIT_HUB_BACKUP_DAYS:-14}

case $url in
    postgresql://* | postgres://*) ;;
    *) echo "pg-backup.sh: give the hub's postgresql:// URL (or set FIELDKIT_HUB_DATABASE)" >&2; exit 2 ;;
esac
if ! [[ $days =~ ^[1-9][0-9]*$ ]]; then
    echo "pg-backup.sh: FIELDKIT_HUB_BACKUP_DAYS is a number of days, not '$days'" >&2
    exit 2
fi

umask 077
mkdir -p "$dir"
out="$dir/fieldkit-hub-$(date -u +%Y%m%dT%H%M%SZ).dump"
# Written aside and renamed once whole and readable, so a cut dump never passes for a backup
# (and never makes the pruning below remove a good one).
trap 'rm -f "$out.partial"' EXIT
pg_dump --format=custom --file="$out.partial" --dbname="$url"
pg_restore --list "$out.partial" >/dev/null
mv "$out.partial" "$out"
trap - EXIT

find "$dir" -maxdepth 1 -type f -name 'fieldkit-hub-*.dump' -mmin +$((days * 1440)) -print -delete \
    | sed 's/^/pg-backup.sh: removed /'
echo "pg-backup.sh: wrote $out ($(stat -c %s "$out") bytes)"
