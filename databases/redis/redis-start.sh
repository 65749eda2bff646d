#!/bin/sh
# Starts the Redis of tokens, sessions and limits (dev, staging): redis.conf, the default user's
# password (REDIS_PASSWORD, for probes and operators) and one ACL user per line of acl-users, each
# with its own password from <USER>_REDIS_PASSWORD. Extra arguments go to redis-server first.
#   REDIS_CONF (default /etc/redis/redis.conf), REDIS_ACL_USERS (default /etc/redis/acl-users)
set -euf
conf="${REDIS_CONF:-/etc/redis/redis.conf}"
acl="${REDIS_ACL_USERS:-/etc/redis/acl-users}"
set -- "$conf" "$@" --requirepass "$REDIS_PASSWORD"
while read -r user rules; do
  case "$user" in '' | '#'*) continue ;; esac
  var="$(echo "$user" | tr 'a-z-' 'A-Z_')_REDIS_PASSWORD"
  value=""
  eval "value=\"\${$var:?$var is not set}\""
  # shellcheck disable=SC2086 # the rules are words on purpose (globbing is off: set -f)
  set -- "$@" --user "$user" on ">$value" $rules
done <"$acl"
exec redis-server "$@"
