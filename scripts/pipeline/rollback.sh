#!/usr/bin/env bash
# rollback.yml: reverts the environment's last promotion in Git (npm run rollback:promotion: the
# overlay gets its previous digests back, a rollback record is appended), pushes it, then puts the
# cluster back at once with scripts/rollback.sh for every service of that promotion (abort of a
# release in flight, or undo of a finished one) instead of waiting for Argo CD's sync.
#   scripts/pipeline/rollback.sh ENV REASON [TIMEOUT_SECONDS per service (60)]
set -euo pipefail
SCRIPT_NAME=rollback
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

[ $# -ge 2 ] || die "usage: rollback.sh ENV REASON [TIMEOUT]"
env="$1" reason="$2" timeout="${3:-60}"
check_env "$env"
ns="$(namespace_of "$env")"
started=$SECONDS
# The services whose digest the reverted promotion changed: an undo of any other Rollout would
# take it back to an older revision that this promotion did not bring.
records="$ROOT/deploy/promotions/$env.jsonl"
[ -f "$records" ] || die "no promotion records for $env ($records)"
services="$(jq -rs '
  (map(select(.kind == "rollback") | .promotion)) as $reverted
  | map(select(.kind == "promotion" and (.id as $id | $reverted | index($id) | not))) | last
  | if . == null then error("no promotion in place") else . end
  | .images as $new | .previous as $old
  | $new | keys_unsorted[] | select($new[.] != $old[.])' "$records")" ||
  die "no promotion to roll back in $records"
git_identity
npm run --silent --prefix "$ROOT" rollback:promotion -- --env "$env" --repo "$ROOT" --reason "$reason"
gitops_push
for service in $services; do
  "$ROOT/scripts/rollback.sh" -n "$ns" --timeout "$timeout" "$service"
done
echo "rollback: $env rolled back in $((SECONDS - started)) s"
output seconds "$((SECONDS - started))"
{
  echo "### Rollback of $env"
  echo "Reason: ${reason}; $((SECONDS - started)) s; services: $(echo "$services" | tr '\n' ' ')"
} | summary
