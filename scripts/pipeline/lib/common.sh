#!/usr/bin/env bash
# Shared by the scripts/pipeline/*.sh step scripts of the workflows (sourced, not run).
# ROOT: the checkout; die; the namespace of an environment; GitHub outputs and summary that also
# work outside Actions (then they go to stderr).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
export ROOT

die() {
  echo "${SCRIPT_NAME:-pipeline}: $*" >&2
  exit 1
}

check_env() { # ENV
  case "$1" in staging | production) ;; *) die "environment must be staging or production (got '$1')" ;; esac
}

namespace_of() { echo "mdp-$1"; }

# output NAME VALUE: a step output under Actions, a line on stderr elsewhere.
output() {
  if [ -n "${GITHUB_OUTPUT:-}" ]; then echo "$1=$2" >>"$GITHUB_OUTPUT"; else echo "output $1=$2" >&2; fi
}

# summary < markdown: the job summary under Actions, stderr elsewhere.
summary() {
  if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then cat >>"$GITHUB_STEP_SUMMARY"; else cat >&2; fi
}

# The identity the promotion commits are made with (the workflow's bot, or the local git user).
git_identity() {
  if [ -n "${GITHUB_ACTIONS:-}" ]; then
    git -C "$ROOT" config user.name "github-actions[bot]"
    git -C "$ROOT" config user.email "41898282+github-actions[bot]@users.noreply.github.com"
  fi
}

# Pushes HEAD to the branch it came from, rebasing on what others pushed meanwhile (the records
# files only grow at the end, so a rebase of another environment's promotion is clean).
gitops_push() {
  local branch attempt
  branch="$(git -C "$ROOT" rev-parse --abbrev-ref HEAD)"
  for attempt in 1 2 3 4 5; do
    if git -C "$ROOT" push origin "HEAD:${branch}"; then return 0; fi
    echo "${SCRIPT_NAME:-pipeline}: push refused (attempt ${attempt}); rebasing on origin/${branch}" >&2
    git -C "$ROOT" pull --rebase origin "$branch"
  done
  die "could not push the promotion commit to ${branch}"
}
