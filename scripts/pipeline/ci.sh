#!/usr/bin/env bash
# ci.yml's steps, the same lines as .ci/run:
#   scripts/pipeline/ci.sh install   npm ci, then check that npm scripts run the pinned Node.js
#   scripts/pipeline/ci.sh check     npm run check (tsc -b, biome, the API document lint)
#   scripts/pipeline/ci.sh test      npm test, which does the set-up of a fresh machine itself (as root)
set -euo pipefail
SCRIPT_NAME=ci
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$ROOT"

case "${1:-}" in
  install)
    npm ci --no-audit --no-fund
    want="v$(tr -d '[:space:]' <.node-version)"
    got="$(npm exec --offline -- node --version)"
    [ "$got" = "$want" ] || die "npm scripts run Node.js $got, expected $want"
    echo "ci: project Node.js $got"
    ;;
  check)
    npm run check
    ;;
  test)
    # The README's test line: it runs scripts/ensure-services.sh and scripts/install-tools.sh
    # first (Debian packages, datastores started, engines linked from the cache or built).
    [ "$(id -u)" -eq 0 ] || die "the set-up installs Debian packages: run as root (ci.yml's container is)"
    npm test
    ;;
  *) die "usage: scripts/pipeline/ci.sh install|check|test" ;;
esac
