#!/bin/sh
# A local Citus cluster for trying Tessera past one database server: a coordinator and
# two workers on this machine, with schema-based sharding (every tenant schema becomes a
# distributed schema placed on one worker). Needs PostgreSQL with the Citus extension
# installed (Citus 12 or later; 13.2 with PostgreSQL 15 was used, see ARCHITECTURE.md,
# "Past one database server").
#
#   deploy/citus/cluster.sh start    # initdb (first time), start, create the database
#   deploy/citus/cluster.sh status   # the nodes and the distributed schemas
#   deploy/citus/cluster.sh stop
#   deploy/citus/cluster.sh destroy  # stop and delete the data directories
#
# Then point Tessera at the coordinator:
#   DATABASE_URL=postgresql://postgres@127.0.0.1:5441/tessera
#
# Environment: PG_BIN (default /usr/lib/postgresql/15/bin), CITUS_DIR (default
# /tmp/citus-cluster), CITUS_PORT (the coordinator's port, default 5441; the workers
# take the next two), CITUS_DB (default tessera), CITUS_OS_USER (when run as root, the
# user that owns the data directories, default postgres).
set -eu

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
DIR=${CITUS_DIR:-/tmp/citus-cluster}
PORT=${CITUS_PORT:-5441}
DB=${CITUS_DB:-tessera}
OS_USER=${CITUS_OS_USER:-postgres}
NODES="coordinator:$PORT worker1:$((PORT + 1)) worker2:$((PORT + 2))"

# PostgreSQL refuses to run as root: as root, every server command runs as OS_USER.
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        su "$OS_USER" -s /bin/sh -c "$(printf '%s ' "$@")"
    else
        "$@"
    fi
}

psql_on() {
    port=$1
    shift
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres "$@"
}

node_init() {
    name=$1
    port=$2
    data="$DIR/$name"
    [ -f "$data/PG_VERSION" ] && return 0
    mkdir -p "$data"
    [ "$(id -u)" = 0 ] && chown "$OS_USER" "$DIR" "$data"
    as_owner "$PG_BIN/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >>"$data/postgresql.conf" <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$data'
shared_preload_libraries = 'citus'
# Every schema created from now on is a distributed schema (one tenant, one worker).
citus.enable_schema_based_sharding = on
# The append-only and frozen-document triggers run on the workers' shards.
citus.enable_unsafe_triggers = on
# The coordinator opens connections to each worker for every backend that routes a
# query there (a web process, a Celery worker, the parallel tenant migrations).
max_connections = 300
CONF
    # Trust on the loopback only: a throwaway cluster on one machine.
    cat >"$data/pg_hba.conf" <<HBA
local all all trust
host all all 127.0.0.1/32 trust
HBA
}

start() {
    for node in $NODES; do
        node_init "${node%%:*}" "${node##*:}"
    done
    for node in $NODES; do
        name=${node%%:*}
        if ! as_owner "$PG_BIN/pg_ctl" -D "$DIR/$name" status >/dev/null 2>&1; then
            as_owner "$PG_BIN/pg_ctl" -D "$DIR/$name" -l "$DIR/$name.log" -w start >/dev/null
        fi
    done
    for node in $NODES; do
        port=${node##*:}
        if [ -z "$(psql_on "$port" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" ]; then
            psql_on "$port" -d postgres -c "CREATE DATABASE $DB"
        fi
        psql_on "$port" -d "$DB" -c "CREATE EXTENSION IF NOT EXISTS citus"
    done
    if [ "$(psql_on "$PORT" -d "$DB" -tAc "SELECT count(*) FROM pg_dist_node WHERE noderole = 'primary' AND groupid > 0")" = 0 ]; then
        psql_on "$PORT" -d "$DB" -c "SELECT citus_set_coordinator_host('127.0.0.1', $PORT)"
        psql_on "$PORT" -d "$DB" -c "SELECT citus_add_node('127.0.0.1', $((PORT + 1)))"
        psql_on "$PORT" -d "$DB" -c "SELECT citus_add_node('127.0.0.1', $((PORT + 2)))"
    fi
    status
    echo "DATABASE_URL=postgresql://postgres@127.0.0.1:$PORT/$DB"
}

status() {
    psql_on "$PORT" -d "$DB" -c "SELECT nodeid, nodename, nodeport, groupid, isactive FROM pg_dist_node ORDER BY nodeid"
    psql_on "$PORT" -d "$DB" -c "SELECT schema_name, colocation_id, schema_size, schema_owner FROM citus_schemas ORDER BY 1"
    psql_on "$PORT" -d "$DB" -c "SELECT nodeport, count(DISTINCT citus_table_type || ':' || table_name) AS tables, count(*) AS shards FROM citus_shards GROUP BY nodeport ORDER BY nodeport"
}

stop() {
    for node in $NODES; do
        name=${node%%:*}
        [ -d "$DIR/$name" ] && as_owner "$PG_BIN/pg_ctl" -D "$DIR/$name" -m fast -w stop >/dev/null 2>&1 || true
    done
}

case "${1:-}" in
start) start ;;
status) status ;;
stop) stop ;;
destroy)
    stop
    rm -rf "$DIR"
    ;;
*)
    echo "usage: $0 start|status|stop|destroy" >&2
    exit 2
    ;;
esac
