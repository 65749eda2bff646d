#!/usr/bin/env bash
# The job summary of a deployment: the environment's DORA figures from its promotion records.
#   scripts/pipeline/summary.sh ENV
set -euo pipefail
SCRIPT_NAME=summary
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

env="${1:-}"
check_env "$env"
{
  echo "### DORA figures ($env)"
  echo '```'
  npm run --silent --prefix "$ROOT" dora -- --env "$env" --repo "$ROOT"
  echo '```'
} | summary
