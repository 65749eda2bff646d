#!/usr/bin/env bash
# build-images.yml, digests job: merges the per-service files of image-digest.sh into the digests
# file that scripts/pipeline/promote.ts takes (--digests): the source commit, its commit time
# (where the lead time for changes starts), the run, and one {service, name, digest} per image.
# Fails unless there is exactly one digest per service of scripts/build-images.sh --list.
#   scripts/pipeline/merge-digests.sh IN_DIR OUT_FILE
set -euo pipefail
SCRIPT_NAME=merge-digests
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

[ $# -eq 2 ] || die "usage: merge-digests.sh IN_DIR OUT_FILE"
in="$1" out="$2"
commit="${GITHUB_SHA:-$(git -C "$ROOT" rev-parse HEAD)}"
committed_at="$(git -C "$ROOT" log -1 --format=%cI "$commit")"
expected="$("$ROOT/scripts/build-images.sh" --list --json | jq -c '[.images[].service] | sort')"
shopt -s nullglob
files=("$in"/*.json)
[ ${#files[@]} -gt 0 ] || die "no digest files in $in"
jq -s --arg commit "$commit" --arg committedAt "$committed_at" --arg runId "${GITHUB_RUN_ID:-local}" \
  '{commit: $commit, committedAt: $committedAt, runId: $runId, images: (sort_by(.service))}' \
  "${files[@]}" >"$out"
got="$(jq -c '[.images[].service]' "$out")"
[ "$got" = "$expected" ] || die "digests for $got, expected one per service $expected"
output digests "$(jq -c . "$out")"
{
  echo "### Image digests (${commit:0:7})"
  echo '```'
  jq -r '.images[] | "\(.name)@\(.digest)"' "$out"
  echo '```'
} | summary
