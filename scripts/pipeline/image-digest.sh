#!/usr/bin/env bash
# build-images.yml, publish job: writes what one service's push produced, for the digests job.
#   scripts/pipeline/image-digest.sh OUT_DIR SERVICE IMAGE_NAME sha256:DIGEST
set -euo pipefail
SCRIPT_NAME=image-digest
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

[ $# -eq 4 ] || die "usage: image-digest.sh OUT_DIR SERVICE IMAGE_NAME sha256:DIGEST"
out="$1" service="$2" name="$3" digest="$4"
[[ "$service" =~ ^[a-z0-9-]+$ ]] || die "bad service name '$service'"
[[ "$digest" =~ ^sha256:[0-9a-f]{64}$ ]] || die "'$digest' is not a sha256 digest"
mkdir -p "$out"
jq -n --arg service "$service" --arg name "$name" --arg digest "$digest" \
  '{service: $service, name: $name, digest: $digest}' >"$out/$service.json"
echo "image-digest: $name@$digest"
