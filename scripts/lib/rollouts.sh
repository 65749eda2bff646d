# shellcheck shell=bash
# shellcheck disable=SC2034  # the constants and settings here are read by the scripts that source it
# Shared by scripts/deploy-canary.sh, scripts/deploy-blue-green.sh and scripts/rollback.sh:
# kubectl and the Argo Rollouts plugin (kubectl argo rollouts = the kubectl-argo-rollouts binary),
# the exit codes, --dry-run, and the wait loop that shows progress. Sourced, not run.

# Exit codes (the same for the three scripts; --help prints them).
readonly EXIT_OK=0
readonly EXIT_ERROR=1          # kubectl or the cluster failed
readonly EXIT_USAGE=2          # wrong arguments, image not pinned by digest
readonly EXIT_NOT_FOUND=3      # no such Rollout, or not of this script's strategy, or nothing to roll back
readonly EXIT_ABORTED=4        # the release failed its analysis (or progress deadline): the controller aborted it, stable serves
readonly EXIT_TIMEOUT=5        # not finished within --timeout (the release is aborted unless --no-abort)

EXIT_CODES_HELP="Exit codes:
  0  done (released, promoted, or rolled back)
  1  kubectl or the cluster failed
  2  usage: wrong arguments, or the image is not pinned by digest (REPO@sha256:<64 hex>)
  3  no such Rollout, not a Rollout of this strategy, or nothing to roll back
  4  the release was aborted (an analysis failed or the progress deadline passed); stable serves
  5  timeout: not finished within --timeout (the release is then aborted, unless --no-abort)"

KUBECTL=${KUBECTL:-kubectl}
# Seconds between two status reads while waiting (tests set 0).
POLL_SECONDS=${ROLLOUT_POLL_SECONDS:-2}
NAMESPACE=${MDP_NAMESPACE:-}
DRY_RUN=0
TIMEOUT=300
ABORT_ON_TIMEOUT=1

log() { printf '%s: %s\n' "${SCRIPT_NAME:-rollouts}" "$*" >&2; }
die() {
  local code=$1
  shift
  log "$*"
  exit "$code"
}

# A read-only kubectl call (also made under --dry-run). The namespace goes last: kubectl refuses
# flags before a plugin's name (kubectl argo rollouts ...).
kc() { "$KUBECTL" "$@" -n "$NAMESPACE"; }

# A call that changes the cluster: printed, and skipped under --dry-run.
kc_change() {
  if [[ $DRY_RUN == 1 ]]; then
    printf 'dry-run: %s %s -n %s\n' "$KUBECTL" "$*" "$NAMESPACE"
    return 0
  fi
  log "$KUBECTL $* -n $NAMESPACE"
  "$KUBECTL" "$@" -n "$NAMESPACE" >&2 || die "$EXIT_ERROR" "kubectl $1 ${2:-} ${3:-} failed"
}

# REPO@sha256:<64 hex> (a tag may precede the digest; the digest is what is deployed).
is_digest_image() { [[ $1 =~ ^[a-z0-9][a-z0-9./_:-]*@sha256:[0-9a-f]{64}$ ]]; }

# The strategy of a Rollout: canary, blueGreen, or nothing (exit 3).
rollout_strategy() {
  local name=$1 out
  if ! out=$(kc get rollout "$name" -o 'jsonpath={.spec.strategy.canary}{"|"}{.spec.strategy.blueGreen}' 2>&1); then
    die "$EXIT_NOT_FOUND" "no Rollout $name in namespace $NAMESPACE: $out"
  fi
  if [[ ${out%%|*} != "" ]]; then
    echo canary
  elif [[ ${out#*|} != "" ]]; then
    echo blueGreen
  else
    die "$EXIT_NOT_FOUND" "Rollout $name has no canary or blueGreen strategy"
  fi
}

rollout_field() { kc get rollout "$1" -o "jsonpath=$2"; }

# The plugin's status on one line: "Healthy", "Paused - BlueGreenPause", "Progressing - ...", or
# for an aborted release "Degraded Error: The rollout is in a degraded state with message: ..."
# (the plugin exits 1 then, with the reason on stderr).
rollout_status() {
  local out
  out=$(kc argo rollouts status "$1" --watch=false 2>&1) || true
  printf '%s\n' "${out//$'\n'/ }"
}

# wait_rollout NAME PREDICATE: reads the status until PREDICATE (a function given the status
# line) returns 0 (done), 4 (failed) or the timeout passes; prints each change with the elapsed
# seconds. Returns the predicate's code, or EXIT_TIMEOUT. The last status read stays in
# LAST_STATUS.
LAST_STATUS=""
wait_rollout() {
  local name=$1 predicate=$2 start=$SECONDS last="" now rc
  while :; do
    now=$(rollout_status "$name")
    LAST_STATUS=$now
    if [[ $now != "$last" ]]; then
      printf '[%4ss] %s: %s\n' "$((SECONDS - start))" "$name" "$now"
      last=$now
    fi
    rc=0
    "$predicate" "$name" "$now" || rc=$?
    case $rc in
      0 | 4) return "$rc" ;;
    esac
    if ((SECONDS - start >= TIMEOUT)); then
      return "$EXIT_TIMEOUT"
    fi
    sleep "$POLL_SECONDS"
  done
}

# A wait_rollout predicate: done when Healthy, failed when Degraded (an aborted release).
healthy() {
  case $2 in
    Healthy*) return 0 ;;
    Degraded*) return 4 ;;
  esac
  return 1
}

# Common options; sets POSITIONAL. Each script adds its own before calling this.
parse_common() {
  POSITIONAL=()
  while (($#)); do
    case $1 in
      -n | --namespace)
        [[ $# -ge 2 ]] || die "$EXIT_USAGE" "$1 needs a value"
        NAMESPACE=$2
        shift 2
        ;;
      --namespace=*)
        NAMESPACE=${1#*=}
        shift
        ;;
      --timeout)
        [[ $# -ge 2 && $2 =~ ^[0-9]+$ ]] || die "$EXIT_USAGE" "--timeout needs a number of seconds"
        TIMEOUT=$2
        shift 2
        ;;
      --dry-run)
        DRY_RUN=1
        shift
        ;;
      --no-abort)
        ABORT_ON_TIMEOUT=0
        shift
        ;;
      -h | --help)
        usage
        exit "$EXIT_OK"
        ;;
      --)
        shift
        POSITIONAL+=("$@")
        break
        ;;
      -*)
        if declare -F parse_own >/dev/null && parse_own "$@"; then
          shift "$OWN_SHIFT"
        else
          die "$EXIT_USAGE" "unknown option $1 (see --help)"
        fi
        ;;
      *)
        POSITIONAL+=("$1")
        shift
        ;;
    esac
  done
  [[ -n $NAMESPACE ]] || die "$EXIT_USAGE" "--namespace is required (or MDP_NAMESPACE)"
  command -v "$KUBECTL" >/dev/null || die "$EXIT_ERROR" "$KUBECTL is not on PATH"
}

# After a timeout: abort the release (unless --no-abort) and exit 5.
on_timeout() {
  local name=$1
  log "not finished within ${TIMEOUT}s"
  if [[ $ABORT_ON_TIMEOUT == 1 ]]; then
    kc_change argo rollouts abort "$name"
    log "aborted: the stable version serves"
  fi
  exit "$EXIT_TIMEOUT"
}
