#!/usr/bin/env bash
# After a promotion commit: waits until Argo CD has synced the environment's Application
# (mdp-<env>, deploy/argocd/applications.yaml) to that commit and reports it Healthy, then until
# every Argo Rollout of the namespace is Healthy. Fails after TIMEOUT seconds in all.
#   scripts/pipeline/wait-healthy.sh ENV [TIMEOUT_SECONDS (600)]
set -euo pipefail
SCRIPT_NAME=wait-healthy
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

env="${1:-}"
check_env "$env"
timeout="${2:-600}"
ns="$(namespace_of "$env")"
app="mdp-$env"
revision="$(git -C "$ROOT" rev-parse HEAD)"
deadline=$((SECONDS + timeout))

# Argo CD notices a push within its polling interval; ask for a refresh so it looks at once.
kubectl -n argocd annotate application "$app" argocd.argoproj.io/refresh=normal --overwrite >/dev/null
while :; do
  state="$(kubectl -n argocd get application "$app" \
    -o jsonpath='{.status.sync.revision} {.status.sync.status} {.status.health.status}')"
  read -r synced sync health <<<"$state"
  echo "wait-healthy: $app revision ${synced:0:7} $sync $health (want ${revision:0:7} Synced Healthy)"
  if [ "$synced" = "$revision" ] && [ "$sync" = Synced ] && [ "$health" = Healthy ]; then break; fi
  [ "$SECONDS" -lt "$deadline" ] || die "$app not Synced+Healthy at ${revision:0:7} within ${timeout}s"
  sleep 5
done

for rollout in $(kubectl -n "$ns" get rollouts.argoproj.io -o name); do
  left=$((deadline - SECONDS))
  [ "$left" -gt 0 ] || die "out of time before ${rollout}"
  kubectl argo rollouts status "${rollout#*/}" -n "$ns" --timeout "${left}s"
done
echo "wait-healthy: $env healthy after $((SECONDS)) s"
output seconds "$SECONDS"
