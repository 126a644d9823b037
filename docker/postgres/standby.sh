#!/usr/bin/env bash
# pg2's entrypoint: on its first start (an empty data directory) it clones the primary with
# pg_basebackup -R (which writes standby.signal and primary_conninfo; pg1 keeps 512 MB of
# WAL for it), then starts as the postgres image always does. Promote it with
#   docker exec -u postgres hipchat-ha-pg2 pg_ctl promote -D /var/lib/postgresql/data
# and SwiftLB's primary detector moves VIP:5430 to it.
set -euo pipefail

: "${PGDATA:=/var/lib/postgresql/data}"
: "${PRIMARY_HOST:?PRIMARY_HOST names the primary to clone}"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    mkdir -p "$PGDATA"
    chown postgres:postgres "$PGDATA"
    chmod 700 "$PGDATA"
    tries=0
    until pg_isready -q -h "$PRIMARY_HOST" -p 5432; do
        tries=$((tries + 1))
        if [ "$tries" -ge 60 ]; then
            echo "standby.sh: the primary $PRIMARY_HOST:5432 did not answer in 60 s" >&2
            exit 1
        fi
        sleep 1
    done
    echo "standby.sh: cloning $PRIMARY_HOST into $PGDATA"
    PGPASSWORD=$(cat /run/secrets/replication_password) gosu postgres \
        pg_basebackup -h "$PRIMARY_HOST" -p 5432 -U replicator -D "$PGDATA" \
        -R -X stream --checkpoint=fast --no-password --progress
fi
exec docker-entrypoint.sh "$@"
