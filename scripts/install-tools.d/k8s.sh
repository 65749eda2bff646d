#!/usr/bin/env bash
# Kubernetes checks (npm run validate:k8s and the k8s-validate tests); sourced by
# scripts/install-tools.sh.
#   - shellcheck (Debian): lints scripts/k8s/*.sh, the datastore init scripts and this file.
#   - openssl (Debian): scripts/k8s/create-secrets.sh makes the Ed25519 JWT key pair with it.
#   - kubectl renders the overlays (kubectl kustomize, Kustomize v5 built in). Debian bookworm
#     has no kubectl package: it must already be on the machine (it is on this project's
#     machines); the hook below fails with one clear line if it is missing.
set -euo pipefail

APT_PACKAGES+=(shellcheck openssl)

after_install_k8s() {
  if ! command -v kubectl >/dev/null 2>&1; then
    echo "install-tools: kubectl is missing; install kubectl >= 1.27 (Kustomize v5 built in) for npm run validate:k8s" >&2
    return 1
  fi
}
