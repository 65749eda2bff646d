#!/usr/bin/env bash
# Canary release of one service by its Argo Rollout (deployment-strategies/canary).
set -euo pipefail
SCRIPT_NAME=deploy-canary
# shellcheck source-path=SCRIPTDIR source=lib/rollouts.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/rollouts.sh"

usage() {
  cat <<USAGE
Usage: scripts/deploy-canary.sh -n NAMESPACE [options] SERVICE IMAGE@sha256:DIGEST

Sets the image of SERVICE's canary Rollout by digest (kubectl argo rollouts set image), then
waits while showing progress: the controller runs the steps (10 % -> pause -> 50 % -> pause
-> 100 %) and the background analyses, and aborts by itself when one fails.

Options:
  -n, --namespace NS   the environment's namespace (mdp-dev, mdp-staging, mdp-production)
  --container NAME     the container to update (default: SERVICE)
  --timeout SECONDS    how long to wait for Healthy (default 300)
  --no-abort           on timeout, leave the release where it is (default: abort it)
  --dry-run            print the changing commands instead of running them; no wait
  -h, --help           this text

$EXIT_CODES_HELP
USAGE
}

CONTAINER=""
parse_own() {
  case $1 in
    --container)
      [[ $# -ge 2 ]] || die "$EXIT_USAGE" "--container needs a value"
      CONTAINER=$2
      OWN_SHIFT=2
      ;;
    *) return 1 ;;
  esac
}

canary_done() {
  case $2 in
    Healthy*) return 0 ;;
    Degraded*) return 4 ;;
  esac
  return 1
}

main() {
  parse_common "$@"
  [[ ${#POSITIONAL[@]} -eq 2 ]] || die "$EXIT_USAGE" "want SERVICE and IMAGE@sha256:DIGEST (see --help)"
  local service=${POSITIONAL[0]} image=${POSITIONAL[1]}
  is_digest_image "$image" || die "$EXIT_USAGE" "image must be pinned by digest (REPO@sha256:<64 hex>): $image"
  [[ $(rollout_strategy "$service") == canary ]] ||
    die "$EXIT_NOT_FOUND" "Rollout $service is not a canary (use scripts/deploy-blue-green.sh)"
  kc_change argo rollouts set image "$service" "${CONTAINER:-$service}=$image"
  [[ $DRY_RUN == 1 ]] && exit "$EXIT_OK"
  local rc=0
  wait_rollout "$service" canary_done || rc=$?
  case $rc in
    0) log "released: $service runs $image" ;;
    4) die "$EXIT_ABORTED" "aborted by the controller: $(rollout_status "$service")" ;;
    *) on_timeout "$service" ;;
  esac
}

main "$@"
