#!/bin/sh
# Starts one Redis data node of the Sentinel-managed set: as a replica of the current primary
# (asked of the Sentinels), or as the primary when it is that primary or the set is new and this
# node is $BOOTSTRAP_PRIMARY. Used by the redis StatefulSet (production) and by the Redis drill
# (tests/drills), with the same settings:
#   REDIS_PASSWORD, MASTER_NAME, SENTINELS, BOOTSTRAP_PRIMARY, ANNOUNCE_HOST, ANNOUNCE_PORT,
#   REDIS_CONF (redis.conf of this directory), REDIS_RUN_DIR (writable: Sentinel makes Redis
#   rewrite its config file on every failover); extra arguments go to redis-server.
set -eu
# shellcheck source=databases/redis-ha/find-primary.sh
. "$(dirname "$0")/find-primary.sh"

conf="$REDIS_RUN_DIR/redis.conf"
cp "$REDIS_CONF" "$conf"
chmod 600 "$conf"

primary=$(find_primary)
self="$ANNOUNCE_HOST:$ANNOUNCE_PORT"
set -- "$conf" --requirepass "$REDIS_PASSWORD" --masterauth "$REDIS_PASSWORD" \
  --replica-announce-ip "$ANNOUNCE_HOST" --replica-announce-port "$ANNOUNCE_PORT" "$@"
if [ "$primary" != "$self" ]; then
  echo "redis-start: replica of $primary" >&2
  set -- "$@" --replicaof "${primary%:*}" "${primary##*:}"
else
  echo "redis-start: primary" >&2
fi
exec redis-server "$@"
