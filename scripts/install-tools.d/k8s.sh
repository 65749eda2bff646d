#!/usr/bin/env bash
# Tools the Kubernetes checks need (npm run validate:k8s, the k8s-validate tests).
# Idempotent: installs only what is missing. Called by scripts/install-tools.sh.
#   - the linter shellcheck (Debian package): lints the shell scripts under scripts/k8s and databases/.
#   - kubectl: renders the overlays (kubectl kustomize, Kustomize v5 built in). Not in
#               Debian bookworm: it must already be on the machine (it is on this project's
#               machines); the check below fails with a clear line if it is not.
set -euo pipefail

if ! command -v shellcheck >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq shellcheck >/dev/null
fi
shellcheck --version | sed -n 2p

if ! command -v kubectl >/dev/null 2>&1; then
  echo "k8s tools: kubectl is missing; install kubectl >= 1.27 (kustomize v5 built in) to run npm run validate:k8s" >&2
  exit 1
fi
kubectl version --client 2>/dev/null | head -2
