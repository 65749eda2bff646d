#!/usr/bin/env bash
# The engines a deployment job needs (kubectl-argo-rollouts; kube-apiserver and etcd for the policy
# gate), from the project's pins (tools/engines.tsv): linked from the restored cache, built when
# missing. Puts .tools/bin on the PATH of the later steps.
#   scripts/pipeline/engines.sh ENGINE...
set -euo pipefail
SCRIPT_NAME=engines
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

[ $# -gt 0 ] || die "usage: engines.sh ENGINE..."
bash "$ROOT/scripts/build-engines.sh" "$@"
if [ -n "${GITHUB_PATH:-}" ]; then echo "$ROOT/.tools/bin" >>"$GITHUB_PATH"; fi
