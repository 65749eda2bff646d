#!/usr/bin/env bash
# Benchmark of the image build (npm run bench:images), printing figures, asserting nothing:
#   1. all five images from scratch: an empty image store and an empty npm cache mount
#      (only the stand-in base images are copied in, as a registry pull would bring them);
#   2. all five again after a one-line source change in one service (the CI case);
#   3. each image's size.
# Runs in a throwaway store under MDP_BENCH_DIR (default /var/tmp), so the project's build cache
# is left alone. Needs what the container test needs (scripts/install-tools.d/images.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/containers-env.sh
. "${ROOT}/scripts/lib/containers-env.sh"
service="${1:-user-service}"

work="$(mktemp -d "${MDP_BENCH_DIR:-/var/tmp}/mdp-bench.XXXXXX")"
bench_conf="$work/storage.conf"
cat >"$bench_conf" <<EOF
[storage]
driver = "overlay"
runroot = "$work/run"
graphroot = "$work/graph"
[storage.options.overlay]
mountopt = "nodev"
EOF

cleanup() {
  CONTAINERS_STORAGE_CONF="$bench_conf" buildah rm --all >/dev/null 2>&1 || true
  CONTAINERS_STORAGE_CONF="$bench_conf" podman rmi -af >/dev/null 2>&1 || true
  CONTAINERS_STORAGE_CONF="$bench_conf" podman system reset -f >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# The stand-in bases into the empty store.
for img in "$MDP_STANDIN_BUILD_BASE" "$MDP_STANDIN_RUNTIME_BASE"; do
  podman image exists "$img" || { echo "bench-images: $img missing (scripts/make-base-images.sh)" >&2; exit 1; }
  podman save --quiet --format oci-archive -o "$work/base.tar" "$img"
  CONTAINERS_STORAGE_CONF="$bench_conf" podman load --quiet -i "$work/base.tar" >/dev/null
  CONTAINERS_STORAGE_CONF="$bench_conf" podman tag "$(CONTAINERS_STORAGE_CONF="$bench_conf" podman images -q | head -1)" "$img"
  rm -f "$work/base.tar"
done

# A copy of the build context (tracked files and local edits), to change one line in.
mkdir -p "$work/context"
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - 2>/dev/null) | tar -C "$work/context" -xf -

export CONTAINERS_STORAGE_CONF="$bench_conf"
export TMPDIR="$work/tmp" # buildah keeps RUN --mount=type=cache folders under TMPDIR: a cold npm cache
mkdir -p "$TMPDIR"

t0=$(date +%s.%N)
"$ROOT/scripts/build-images.sh" --standin --owner bench --context "$work/context" >"$work/build1.log" 2>&1 ||
  { tail -n 40 "$work/build1.log" >&2; exit 1; }
t1=$(date +%s.%N)

echo "// bench: one-line change $(date +%s%N)" >>"$work/context/services/$service/src/app.ts"
"$ROOT/scripts/build-images.sh" --standin --owner bench --context "$work/context" >"$work/build2.log" 2>&1 ||
  { tail -n 40 "$work/build2.log" >&2; exit 1; }
t2=$(date +%s.%N)

printf 'images.build_all_from_scratch_s %.1f\n' "$(echo "$t1 - $t0" | bc)"
printf 'images.rebuild_all_after_one_line_change_in_%s_s %.1f\n' "$service" "$(echo "$t2 - $t1" | bc)"
for s in $("$ROOT/scripts/build-images.sh" --list | grep -v '^tag-pattern' | xargs -n1 basename); do
  bytes="$(podman image inspect --format '{{.Size}}' "ghcr.io/bench/$s:sha-$(git -C "$ROOT" rev-parse --short=7 HEAD)")"
  printf 'images.size_mb{service="%s"} %.1f\n' "$s" "$(echo "$bytes / 1000000" | bc -l)"
done
