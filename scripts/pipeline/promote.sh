#!/usr/bin/env bash
# deploy-staging.yml / deploy-production.yml: promote the digests of FILE into deploy/overlays/ENV
# by a commit (GitOps: Argo CD syncs it), and push it. The promotion itself, its gates (the
# digest passed the previous environment; its keyless cosign signature is build-images.yml's of
# this repository) and its record are scripts/pipeline/promote.ts. Step outputs: promoted=true|false.
#   scripts/pipeline/promote.sh ENV DIGESTS_FILE
set -euo pipefail
SCRIPT_NAME=promote
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

[ $# -eq 2 ] || die "usage: promote.sh staging|production DIGESTS_FILE"
env="$1" digests="$2"
check_env "$env"
[ -f "$digests" ] || die "no digests file $digests"
digests="$(realpath "$digests")"
repository="${GITHUB_REPOSITORY:-$(git -C "$ROOT" remote get-url origin | sed -E 's#(\.git)?$##; s#^.*github\.com[:/]##')}"
identity="^https://github\\.com/${repository}/\\.github/workflows/build-images\\.yml@refs/(heads/main|tags/v.*)\$"

git_identity
before="$(git -C "$ROOT" rev-parse HEAD)"
npm run --silent --prefix "$ROOT" promote -- --env "$env" --digests "$digests" --repo "$ROOT" \
  --certificate-identity-regexp "$identity" \
  --certificate-oidc-issuer https://token.actions.githubusercontent.com
if [ "$(git -C "$ROOT" rev-parse HEAD)" = "$before" ]; then
  output promoted false
  exit 0
fi
gitops_push
output promoted true
output commit "$(git -C "$ROOT" rev-parse HEAD)"
