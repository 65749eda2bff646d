#!/usr/bin/env bash
# Data-tier drills (tests/drills, `npm run drills`); sourced by scripts/install-tools.sh.
# Every datastore a drill starts is its own (other ports, temp dirs), from these packages:
#   - postgresql-15: initdb, pg_ctl, pg_basebackup, pg_rewind for the test-owned clusters;
#   - pgbackrest: WAL archive, base backup and point-in-time restore;
#   - haproxy: the primary-following endpoint (what CloudNativePG's -rw Service is in production)
#     and the broker endpoint;
#   - redis-server / redis-tools: data nodes, Sentinels (redis-server --sentinel) and redis-cli;
#   - rabbitmq-server: the nodes of the 3-node cluster (with Erlang's epmd).
# The machine's own PostgreSQL, Redis and RabbitMQ come from the same packages and are left alone.
# validate:k8s installs the operators' CRDs into the local API server from their Go modules
# (packages/cluster/src/crds.ts; downloaded through the Go module proxy when the cache lacks them).
set -euo pipefail

APT_PACKAGES+=(postgresql-15 pgbackrest haproxy redis-server redis-tools rabbitmq-server)
