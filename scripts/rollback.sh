#!/usr/bin/env bash
# Rollback of one service's Argo Rollout: abort a release in flight, or undo a finished one.
set -euo pipefail
SCRIPT_NAME=rollback
# shellcheck source-path=SCRIPTDIR source=lib/rollouts.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/rollouts.sh"

usage() {
  cat <<USAGE
Usage: scripts/rollback.sh -n NAMESPACE [options] SERVICE

A release in flight (the new ReplicaSet is not yet stable): kubectl argo rollouts abort. The
stable version gets all traffic back at once (canary weight 0, or the blue-green active Service
switched back); the script waits until the controller reports the abort (Degraded). The spec
still names the bad version afterwards: revert it in Git, or pass --undo as well.
A finished release: kubectl argo rollouts undo (to the previous revision, or --to-revision N);
inside the Rollout's rollbackWindow the controller skips the steps and analyses. The script
waits for Healthy.

Options:
  -n, --namespace NS    the environment's namespace
  --undo                after an abort, also undo the spec to the stable revision
  --to-revision N       undo to revision N instead of the previous one
  --timeout SECONDS     how long to wait (default 30: the rollback target)
  --dry-run             print the changing commands instead of running them; no wait
  -h, --help            this text

$EXIT_CODES_HELP
USAGE
}

TIMEOUT=30
UNDO=0
TO_REVISION=""
parse_own() {
  case $1 in
    --undo)
      UNDO=1
      OWN_SHIFT=1
      ;;
    --to-revision)
      [[ $# -ge 2 && $2 =~ ^[0-9]+$ ]] || die "$EXIT_USAGE" "--to-revision needs a revision number"
      TO_REVISION=$2
      OWN_SHIFT=2
      ;;
    *) return 1 ;;
  esac
}

aborted() {
  case $2 in
    Degraded*) return 0 ;;
    Healthy*) return 0 ;;
  esac
  return 1
}

# A wait_rollout predicate after an undo: the aborted status read just before the undo
# (STALE) is the controller not having seen the undo yet, not a failed rollback.
STALE=""
undone() {
  if [[ -n $STALE && $2 == "$STALE" ]]; then
    return 1
  fi
  healthy "$@"
}

undo() {
  local service=$1 rc=0
  case $LAST_STATUS in Degraded*) STALE=$LAST_STATUS ;; esac
  if [[ -n $TO_REVISION ]]; then
    kc_change argo rollouts undo "$service" --to-revision="$TO_REVISION"
  else
    kc_change argo rollouts undo "$service"
  fi
  [[ $DRY_RUN == 1 ]] && return 0
  wait_rollout "$service" undone || rc=$?
  case $rc in
    0) log "rolled back: $service is Healthy" ;;
    4) die "$EXIT_ABORTED" "the rollback itself failed: $(rollout_status "$service")" ;;
    *) die "$EXIT_TIMEOUT" "not Healthy within ${TIMEOUT}s" ;;
  esac
}

main() {
  ABORT_ON_TIMEOUT=0
  parse_common "$@"
  [[ ${#POSITIONAL[@]} -eq 1 ]] || die "$EXIT_USAGE" "want SERVICE (see --help)"
  local service=${POSITIONAL[0]} strategy stable current rc=0
  strategy=$(rollout_strategy "$service")
  stable=$(rollout_field "$service" '{.status.stableRS}')
  current=$(rollout_field "$service" '{.status.currentPodHash}')
  log "$service ($strategy): stable $stable, current $current"
  if [[ -n $current && $current != "$stable" && -z $TO_REVISION ]]; then
    kc_change argo rollouts abort "$service"
    if [[ $DRY_RUN == 0 ]]; then
      wait_rollout "$service" aborted || rc=$?
      ((rc == 0)) || die "$EXIT_TIMEOUT" "the abort was not reported within ${TIMEOUT}s"
      log "aborted: stable $stable serves"
    fi
    [[ $UNDO == 1 ]] && undo "$service"
    exit "$EXIT_OK"
  fi
  local revision
  revision=$(rollout_field "$service" '{.metadata.annotations.rollout\.argoproj\.io/revision}')
  if [[ -z $TO_REVISION && ${revision:-1} -le 1 ]]; then
    die "$EXIT_NOT_FOUND" "$service has no previous revision to roll back to"
  fi
  undo "$service"
}

main "$@"
