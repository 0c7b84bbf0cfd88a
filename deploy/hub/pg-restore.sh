#!/usr/bin/env bash
# Restore a pg-backup.sh dump into an EMPTY database (a new one, or the hub's after dropping and
# creating it again): every table, sequence and row, owned by the user the URL connects as.
#
#   pg-restore.sh DUMP [DATABASE_URL]     default: $FIELDKIT_HUB_DATABASE
#
# Stop the hub first (systemctl stop fieldkit-hub.target); start it once this has finished.
set -euo pipefail

if [ $# -lt 1 ] || [ ! -f "$1" ]; then
    echo "usage: pg-restore.sh DUMP [DATABASE_URL]  (a file pg-backup.sh wrote)" >&2
    exit 2
fi
dump=$1
url=${2:-${FIELDKIT_HUB_DATABASE:-}}
case $url in
    postgresql://* | postgres://*) ;;
    *) echo "pg-restore.sh: give the target postgresql:// URL (or set FIELDKIT_HUB_DATABASE)" >&2; exit 2 ;;
esac

# Never over a hub's tables: restoring beside them would fail half-way or mix two histories.
held=$(psql --no-psqlrc --tuples-only --no-align --dbname="$url" \
    --command="SELECT to_regclass('hub_journal') IS NOT NULL")
if [ "$held" != f ]; then
    echo "pg-restore.sh: that database already holds a hub; restore into an empty one" >&2
    exit 1
fi
# One transaction: a restore that fails leaves the database as empty as it was.
pg_restore --exit-on-error --single-transaction --no-owner --no-privileges --dbname="$url" "$dump"
echo "pg-restore.sh: restored $dump; start the hub on this database"
