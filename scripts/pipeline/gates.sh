#!/usr/bin/env bash
# deploy-production.yml's gates before anyone approves: every digest of the candidate through the
# Trivy gate (fixable CRITICAL/HIGH fail, as in build-images.yml), and the policy gate
# (npm run validate:k8s: every overlay rendered, the project's policies, a real API server).
# The signature gate is in the promotion itself (scripts/pipeline/promote.ts).
#   scripts/pipeline/gates.sh DIGESTS_FILE
set -euo pipefail
SCRIPT_NAME=gates
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

[ $# -eq 1 ] || die "usage: gates.sh DIGESTS_FILE"
failed=0
while read -r ref; do
  echo "gates: trivy $ref"
  trivy image --severity CRITICAL,HIGH --ignore-unfixed --pkg-types os,library --exit-code 1 \
    --ignorefile "$ROOT/.trivyignore.yaml" --format table "$ref" || failed=1
done < <(jq -r '.images[] | "\(.name)@\(.digest)"' "$1")
[ "$failed" -eq 0 ] || die "the Trivy gate failed"
cd "$ROOT"
npm run validate:k8s
