#!/usr/bin/env bash
# deploy-production.yml: after the promotion commit, the progressive release of each service by
# its Argo Rollout, by digest: scripts/deploy-blue-green.sh --promote for a blue-green Rollout,
# scripts/deploy-canary.sh for a canary one (their analyses abort a bad release by themselves).
# The Rollout's strategy is read from the cluster. Services whose digest did not change are skipped.
#   scripts/pipeline/release.sh ENV DIGESTS_FILE [TIMEOUT_SECONDS per service (600)]
set -euo pipefail
SCRIPT_NAME=release
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

[ $# -ge 2 ] || die "usage: release.sh ENV DIGESTS_FILE [TIMEOUT]"
env="$1" digests="$2" timeout="${3:-600}"
check_env "$env"
ns="$(namespace_of "$env")"
started=$SECONDS
while read -r service ref; do
  current="$(kubectl -n "$ns" get deployment "$service" -o jsonpath="{.spec.template.spec.containers[?(@.name==\"$service\")].image}" 2>/dev/null || true)"
  if [ "${current#*@}" = "${ref#*@}" ] && kubectl argo rollouts status "$service" -n "$ns" --timeout 5s >/dev/null 2>&1; then
    echo "release: $service already runs ${ref#*@}"
    continue
  fi
  if [ -n "$(kubectl -n "$ns" get rollout "$service" -o jsonpath='{.spec.strategy.blueGreen}')" ]; then
    "$ROOT/scripts/deploy-blue-green.sh" -n "$ns" --promote --timeout "$timeout" "$service" "$ref"
  else
    "$ROOT/scripts/deploy-canary.sh" -n "$ns" --timeout "$timeout" "$service" "$ref"
  fi
done < <(jq -r '.images[] | "\(.service) \(.name)@\(.digest)"' "$digests")
echo "release: $env released in $((SECONDS - started)) s"
output seconds "$((SECONDS - started))"
