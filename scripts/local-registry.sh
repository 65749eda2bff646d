#!/usr/bin/env bash
# A local OCI registry on loopback (Debian's docker-registry, the project's own config in
# containers/registry/config.yml: no auth, 127.0.0.1 only).
#
#   scripts/local-registry.sh start [PORT]   default port 5055 (env MDP_REGISTRY_PORT)
#   scripts/local-registry.sh stop
#   scripts/local-registry.sh status
#
# Storage and pid file live under MDP_REGISTRY_DIR (default /var/lib/mdp-registry).
# Push / pull with --tls-verify=false: it serves plain HTTP on 127.0.0.1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${MDP_REGISTRY_DIR:-/var/lib/mdp-registry}"
pidfile="$dir/registry.pid"
cmd="${1:-status}"
port="${2:-${MDP_REGISTRY_PORT:-5055}}"

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

case "$cmd" in
  start)
    command -v docker-registry >/dev/null || { echo "local-registry: docker-registry is missing (scripts/install-tools.d/images.sh)" >&2; exit 1; }
    if running; then echo "local-registry: already running (pid $(cat "$pidfile"))"; exit 0; fi
    mkdir -p "$dir/data"
    REGISTRY_HTTP_ADDR="127.0.0.1:${port}" REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY="$dir/data" \
      nohup docker-registry serve "$ROOT/containers/registry/config.yml" >"$dir/registry.log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 50); do
      if curl -fsS "http://127.0.0.1:${port}/v2/" >/dev/null 2>&1; then
        echo "local-registry: 127.0.0.1:${port} (pid $(cat "$pidfile"), data $dir/data)"
        exit 0
      fi
      sleep 0.1
    done
    echo "local-registry: did not answer on 127.0.0.1:${port}" >&2
    tail -n 20 "$dir/registry.log" >&2
    exit 1
    ;;
  stop)
    if running; then kill "$(cat "$pidfile")"; echo "local-registry: stopped"; else echo "local-registry: not running"; fi
    rm -f "$pidfile"
    ;;
  status)
    if running; then echo "local-registry: running (pid $(cat "$pidfile"))"; else echo "local-registry: not running"; exit 1; fi
    ;;
  *) echo "usage: $0 start [PORT] | stop | status" >&2; exit 2 ;;
esac
