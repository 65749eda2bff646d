#!/usr/bin/env bash
# deploy-production.yml: the release candidate = what staging's current promotion deployed, as a
# digests file. Fails unless that promotion passed its verification (the promotion to production
# checks it again, against the records it commits on top of).
#   scripts/pipeline/candidate.sh OUT_FILE
set -euo pipefail
SCRIPT_NAME=candidate
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

[ $# -eq 1 ] || die "usage: candidate.sh OUT_FILE"
npm run --silent --prefix "$ROOT" promote -- digests --env staging --repo "$ROOT" >"$1"
last="$(tail -n 1 "$ROOT/deploy/promotions/staging.jsonl")"
[ "$(jq -r '.kind + " " + (.outcome // "")' <<<"$last")" = "verification pass" ] ||
  die "staging's last record is not a passing verification: $last"
{
  echo "### Release candidate (what staging verified)"
  echo '```'
  jq -r '.images[] | "\(.name)@\(.digest)"' "$1"
  echo '```'
} | summary
