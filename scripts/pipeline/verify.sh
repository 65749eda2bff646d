#!/usr/bin/env bash
# Post-deploy verification of an environment's current promotion: the smoke test (npm run smoke)
# and, unless PROFILE is "none", the load test with that profile (npm run loadtest: SLO
# thresholds). Records the outcome (a verification record: production takes only digests that
# passed staging's) and pushes it; exits 1 when a check failed.
#   scripts/pipeline/verify.sh ENV BASE_URL [PROFILE (ci|staging|none), default staging]
set -euo pipefail
SCRIPT_NAME=verify
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

[ $# -ge 2 ] || die "usage: verify.sh ENV BASE_URL [PROFILE]"
env="$1" base_url="$2" profile="${3:-staging}"
check_env "$env"
cd "$ROOT"
out="$(mktemp -d)"
outcome=pass
checks=smoke
npm run --silent smoke -- --base-url "$base_url" | tee "$out/smoke.txt" || outcome=fail
if [ "$profile" != none ]; then
  checks=smoke,loadtest
  if [ "$outcome" = pass ]; then
    npm run --silent loadtest -- --base-url "$base_url" --profile "$profile" --json | tee "$out/loadtest.txt" || outcome=fail
  fi
fi
git_identity
npm run --silent promote -- verify --env "$env" --outcome "$outcome" --checks "$checks" --repo "$ROOT"
gitops_push
{
  echo "### Verification of $env: $outcome"
  echo '```'
  cat "$out/smoke.txt"
  [ ! -f "$out/loadtest.txt" ] || head -n 8 "$out/loadtest.txt"
  echo '```'
} | summary
[ "$outcome" = pass ] || die "post-deploy verification of $env failed"
