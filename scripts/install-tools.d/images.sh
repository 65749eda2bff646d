#!/usr/bin/env bash
# Tools for the container images (issue 6): buildah/podman/skopeo with runc, debootstrap for the
# stand-in base images, Debian's docker-registry for a local registry, shellcheck for scripts/.
# Idempotent; needs root. Then builds the two stand-in base images once (scripts/make-base-images.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
pkgs=(buildah podman skopeo runc debootstrap docker-registry shellcheck curl)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-tools/images: apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The stand-in base images (a no-op when they exist; --force rebuilds).
"${ROOT}/scripts/make-base-images.sh"
