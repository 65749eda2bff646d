#!/usr/bin/env bash
# The engines that judge the project's configuration (issue 9); sourced by
# scripts/install-tools.sh.
#   - Debian: prometheus (+ promtool), prometheus-alertmanager (+ amtool), and the exporters
#     the live observability test and `npm start` scrape: prometheus-postgres-exporter,
#     prometheus-redis-exporter.
#   - Go (/usr/local/go, Go 1.26): every engine of tools/engines.tsv, built from its pinned
#     modules by scripts/build-engines.sh into a per-machine cache and linked into .tools/bin.
#   - kubectl comes with the machine (checked by k8s.sh).
# `npm run tools:versions` lists them all.
set -euo pipefail

APT_PACKAGES+=(prometheus prometheus-alertmanager prometheus-postgres-exporter prometheus-redis-exporter)

after_install_engines() {
  bash "$(dirname "${BASH_SOURCE[0]}")/../build-engines.sh"
}
