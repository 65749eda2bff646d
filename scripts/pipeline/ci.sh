#!/usr/bin/env bash
# ci.yml's steps, the same lines as .ci/run:
#   scripts/pipeline/ci.sh install   npm ci, then check that npm scripts run the pinned Node.js
#   scripts/pipeline/ci.sh check     npm run check (tsc -b, biome, the API document lint)
#   scripts/pipeline/ci.sh test      the set-up (scripts/install-tools.sh, as root) and npm test
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
    # The datastores are the job's service containers on 127.0.0.1; the Debian packages and the
    # engines (restored from the cache of ~/.cache/mdp-tools when their pins did not change) come
    # from the project's installer, which needs root.
    if [ "$(id -u)" -eq 0 ]; then
      bash scripts/install-tools.sh
    else
      sudo --preserve-env=HOME,PATH,MDP_TOOLS_HOME bash scripts/install-tools.sh
    fi
    MDP_SKIP_SETUP=1 npm test
    ;;
  *) die "usage: scripts/pipeline/ci.sh install|check|test" ;;
esac
