#!/usr/bin/env bash
# Blue-green release of one service by its Argo Rollout (deployment-strategies/blue-green).
set -euo pipefail
SCRIPT_NAME=deploy-blue-green
# shellcheck source-path=SCRIPTDIR source=lib/rollouts.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/rollouts.sh"

usage() {
  cat <<USAGE
Usage: scripts/deploy-blue-green.sh -n NAMESPACE [options] SERVICE IMAGE@sha256:DIGEST
       scripts/deploy-blue-green.sh -n NAMESPACE --promote-only [options] SERVICE

Sets the image of SERVICE's blue-green Rollout by digest, then waits while showing progress
until the preview pods passed the pre-promotion analysis (the smoke Job). Where promotion is
automatic (dev, staging) it then waits for the switch and the post-promotion analysis. Where a
person promotes (production), it stops there (exit 0) unless --promote is given; the person's
pipeline step is --promote-only.

Options:
  -n, --namespace NS   the environment's namespace
  --container NAME     the container to update (default: SERVICE)
  --promote            promote once the preview passed its analysis, then wait for Healthy
  --promote-only       no new image: promote the release that waits, then wait for Healthy
  --timeout SECONDS    how long to wait at each stage (default 300)
  --no-abort           on timeout, leave the release where it is (default: abort it)
  --dry-run            print the changing commands instead of running them; no wait
  -h, --help           this text

$EXIT_CODES_HELP
USAGE
}

CONTAINER=""
PROMOTE=0
PROMOTE_ONLY=0
parse_own() {
  case $1 in
    --container)
      [[ $# -ge 2 ]] || die "$EXIT_USAGE" "--container needs a value"
      CONTAINER=$2
      OWN_SHIFT=2
      ;;
    --promote)
      PROMOTE=1
      OWN_SHIFT=1
      ;;
    --promote-only)
      PROMOTE_ONLY=1
      OWN_SHIFT=1
      ;;
    *) return 1 ;;
  esac
}

# Done when Healthy (promoted automatically), or when paused for promotion with the
# pre-promotion analysis successful; failed when Degraded (aborted).
preview_validated() {
  case $2 in
    Healthy*) return 0 ;;
    Degraded*) return 4 ;;
    Paused*)
      [[ $(rollout_field "$1" '{.status.blueGreen.prePromotionAnalysisRunStatus.status}') == Successful ]] &&
        return 0
      ;;
  esac
  return 1
}

finish() {
  local service=$1 rc=$2
  case $rc in
    0) return 0 ;;
    4) die "$EXIT_ABORTED" "aborted by the controller: $(rollout_status "$service")" ;;
    *) on_timeout "$service" ;;
  esac
}

main() {
  parse_common "$@"
  local service image rc=0
  if [[ $PROMOTE_ONLY == 1 ]]; then
    [[ ${#POSITIONAL[@]} -eq 1 ]] || die "$EXIT_USAGE" "--promote-only wants SERVICE only (see --help)"
    service=${POSITIONAL[0]}
  else
    [[ ${#POSITIONAL[@]} -eq 2 ]] || die "$EXIT_USAGE" "want SERVICE and IMAGE@sha256:DIGEST (see --help)"
    service=${POSITIONAL[0]}
    image=${POSITIONAL[1]}
    is_digest_image "$image" || die "$EXIT_USAGE" "image must be pinned by digest (REPO@sha256:<64 hex>): $image"
  fi
  [[ $(rollout_strategy "$service") == blueGreen ]] ||
    die "$EXIT_NOT_FOUND" "Rollout $service is not blue-green (use scripts/deploy-canary.sh)"
  if [[ $PROMOTE_ONLY == 0 ]]; then
    kc_change argo rollouts set image "$service" "${CONTAINER:-$service}=$image"
    if [[ $DRY_RUN == 1 ]]; then
      [[ $PROMOTE == 1 ]] && kc_change argo rollouts promote "$service"
      exit "$EXIT_OK"
    fi
    wait_rollout "$service" preview_validated || rc=$?
    finish "$service" "$rc"
    case $(rollout_status "$service") in
      Healthy*)
        log "released: $service runs $image"
        exit "$EXIT_OK"
        ;;
    esac
    if [[ $PROMOTE == 0 ]]; then
      log "the preview passed its analysis; awaiting promotion: scripts/deploy-blue-green.sh -n $NAMESPACE --promote-only $service"
      exit "$EXIT_OK"
    fi
  fi
  kc_change argo rollouts promote "$service"
  [[ $DRY_RUN == 1 ]] && exit "$EXIT_OK"
  rc=0
  wait_rollout "$service" healthy || rc=$?
  finish "$service" "$rc"
  log "promoted: $service"
}

main "$@"
