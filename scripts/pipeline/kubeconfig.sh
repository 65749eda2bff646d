#!/usr/bin/env bash
# Writes the environment's kubeconfig (secret KUBECONFIG_B64 of the GitHub environment, base64)
# to a file of the runner's temp folder and points later steps at it (KUBECONFIG in GITHUB_ENV).
#   KUBECONFIG_B64=... scripts/pipeline/kubeconfig.sh
set -euo pipefail
SCRIPT_NAME=kubeconfig
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

[ -n "${KUBECONFIG_B64:-}" ] || die "KUBECONFIG_B64 is empty: set it as a secret of the GitHub environment"
file="${RUNNER_TEMP:-$(mktemp -d)}/kubeconfig"
(umask 077 && base64 -d <<<"$KUBECONFIG_B64" >"$file")
kubectl --kubeconfig "$file" version --request-timeout=15s >/dev/null || die "the cluster does not answer"
if [ -n "${GITHUB_ENV:-}" ]; then echo "KUBECONFIG=$file" >>"$GITHUB_ENV"; else echo "export KUBECONFIG=$file"; fi
