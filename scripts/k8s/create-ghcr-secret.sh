#!/usr/bin/env bash
# Creates the image pull secret every pod names (imagePullSecrets: ghcr-pull-secret), so the
# kubelet can pull the platform's images from GitHub Container Registry: the fix for
# ImagePullBackOff on private packages.
#
#   GHCR_USERNAME=you GHCR_TOKEN=ghp_... scripts/k8s/create-ghcr-secret.sh mdp-dev
#   echo "$TOKEN" | GHCR_USERNAME=you scripts/k8s/create-ghcr-secret.sh mdp-dev   (token on stdin)
#   ... --dry-run    print the Secret as YAML instead of applying it
#
# The token needs only the read:packages scope (a fine-grained or classic personal access
# token, or a GitHub App token). It never appears on a command line: the Docker config is
# written to a private temporary file. Re-running replaces the secret (token rotation).
set -euo pipefail

usage() { echo "usage: GHCR_USERNAME=... [GHCR_TOKEN=...] $0 NAMESPACE [--dry-run]" >&2; exit 2; }
[[ $# -ge 1 ]] || usage
ns="$1"; shift
dry_run=false
for arg in "$@"; do
  case "$arg" in
    --dry-run) dry_run=true ;;
    *) usage ;;
  esac
done

user="${GHCR_USERNAME:?set GHCR_USERNAME to the GitHub user or organisation that owns the token}"
token="${GHCR_TOKEN:-}"
if [[ -z "$token" ]]; then
  if [[ -t 0 ]]; then read -r -s -p "GHCR token for $user: " token; echo >&2; else read -r token; fi
fi
[[ -n "$token" ]] || { echo "create-ghcr-secret: no token given (GHCR_TOKEN or stdin)" >&2; exit 1; }

work="$(mktemp -d)"
chmod 700 "$work"
trap 'rm -rf "$work"' EXIT

auth="$(printf '%s:%s' "$user" "$token" | base64 | tr -d '\n')"
json_escape() { printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g'; }
printf '{"auths":{"ghcr.io":{"username":"%s","password":"%s","auth":"%s"}}}' \
  "$(json_escape "$user")" "$(json_escape "$token")" "$auth" >"$work/config.json"

manifest() {
  kubectl create secret generic ghcr-pull-secret --namespace "$ns" \
    --type=kubernetes.io/dockerconfigjson \
    --from-file=.dockerconfigjson="$work/config.json" --dry-run=client -o yaml
}
if [[ "$dry_run" == true ]]; then
  manifest
else
  manifest | kubectl apply -f - >/dev/null
  echo "secret ghcr-pull-secret written to $ns" >&2
fi
