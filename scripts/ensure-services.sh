#!/usr/bin/env bash
# Makes sure PostgreSQL, Redis and RabbitMQ are running on 127.0.0.1 (they are started before
# a session on this kind of machine, but any of them may have stopped). Starts what is down
# with the machine's own start commands and waits until each answers.
set -euo pipefail

wait_for() { # name, seconds, command...
  local name=$1 secs=$2
  shift 2
  for _ in $(seq 1 "$secs"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  echo "ensure-services: $name did not come up within ${secs}s" >&2
  return 1
}

tcp_open() { timeout 1 bash -c "</dev/tcp/127.0.0.1/$1"; }

if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  echo "ensure-services: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
fi
wait_for PostgreSQL 60 pg_isready -h 127.0.0.1 -p 5432 -q

if ! redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then
  echo "ensure-services: starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
wait_for Redis 30 redis-cli -h 127.0.0.1 -p 6379 ping

if ! tcp_open 5672; then
  echo "ensure-services: starting RabbitMQ"
  rabbitmq-server -detached
fi
wait_for RabbitMQ 120 tcp_open 5672
echo "ensure-services: PostgreSQL, Redis and RabbitMQ are up"
