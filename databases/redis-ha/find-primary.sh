#!/bin/sh
# Prints host:port of the Redis primary named $MASTER_NAME, as the first Sentinel of $SENTINELS
# (space-separated host:port) that answers knows it; prints $BOOTSTRAP_PRIMARY when no Sentinel
# knows one yet (the very first start of the set). Sourced by redis-start.sh and sentinel-start.sh.
find_primary() {
  for s in $SENTINELS; do
    answer=$(REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -h "${s%:*}" -p "${s##*:}" --raw \
      SENTINEL get-master-addr-by-name "$MASTER_NAME" 2>/dev/null) || continue
    host=$(printf '%s\n' "$answer" | sed -n 1p)
    port=$(printf '%s\n' "$answer" | sed -n 2p)
    case "$port" in
      '' | *[!0-9]*) continue ;;
    esac
    echo "$host:$port"
    return 0
  done
  echo "$BOOTSTRAP_PRIMARY"
}
