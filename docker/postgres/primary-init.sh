#!/usr/bin/env bash
# Run once by the postgres image's entrypoint when pg1's data directory is created
# (/docker-entrypoint-initdb.d): the replication role the standby clones and streams with,
# and swiftlb_check, the role SwiftLB's primary detector logs in as (docker/lb-ha.conf,
# listen postgres_primary). swiftlb_check has no privilege beyond connecting to the
# `postgres` database, and only the two SwiftLB addresses may use it, without a password
# (a health check cannot answer a password challenge, as with HAProxy's pgsql-check).
# pg_basebackup copies pg_hba.conf, so the standby has the same rules after a promotion.
set -euo pipefail

replication_password=$(cat /run/secrets/replication_password)
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v replication_password="$replication_password" <<'SQL'
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'replication_password';
CREATE ROLE swiftlb_check WITH LOGIN;
SQL

# pg_hba.conf is read top down and the image's last line asks every client for a password:
# these rules go first.
hba="$PGDATA/pg_hba.conf"
{
    echo "# SwiftLB's primary detector (docker/lb-ha.conf) from lb1 and lb2, no password"
    echo "host    postgres       swiftlb_check  172.29.20.11/32  trust"
    echo "host    postgres       swiftlb_check  172.29.20.12/32  trust"
    echo "# the standby's streaming replication"
    echo "host    replication    replicator     172.29.20.0/24   scram-sha-256"
    cat "$hba"
} > "$hba.new"
mv "$hba.new" "$hba"
