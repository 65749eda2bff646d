#!/bin/sh
# Starts one Sentinel watching the primary named $MASTER_NAME (asked of the other Sentinels, or
# $BOOTSTRAP_PRIMARY on a new set). Sentinel rewrites its own configuration, so it is written
# afresh into the writable $SENTINEL_DIR. Settings as redis-start.sh, plus SENTINEL_PORT,
# SENTINEL_ANNOUNCE_PORT, QUORUM (2 of 3), DOWN_AFTER_MS, FAILOVER_TIMEOUT_MS.
set -eu
# shellcheck source=databases/redis-ha/find-primary.sh
. "$(dirname "$0")/find-primary.sh"

primary=$(find_primary)
conf="$SENTINEL_DIR/sentinel.conf"
cat >"$conf" <<CONF
port ${SENTINEL_PORT:-26379}
dir $SENTINEL_DIR
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel announce-ip $ANNOUNCE_HOST
sentinel announce-port ${SENTINEL_ANNOUNCE_PORT:-${SENTINEL_PORT:-26379}}
sentinel monitor $MASTER_NAME ${primary%:*} ${primary##*:} ${QUORUM:-2}
sentinel down-after-milliseconds $MASTER_NAME ${DOWN_AFTER_MS:-5000}
sentinel failover-timeout $MASTER_NAME ${FAILOVER_TIMEOUT_MS:-60000}
sentinel parallel-syncs $MASTER_NAME 1
sentinel auth-pass $MASTER_NAME $REDIS_PASSWORD
requirepass $REDIS_PASSWORD
CONF
chmod 600 "$conf"
echo "sentinel-start: watching $primary" >&2
exec redis-server "$conf" --sentinel "$@"
