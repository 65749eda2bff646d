#!/usr/bin/env bash
# Builds the two LOCAL STAND-IN base images that the Dockerfile takes as build arguments
# where no registry can be pulled from (this machine, its CI):
#
#   localhost/mdp-base/node-build:26-trixie    plays node:26-trixie-slim
#       Debian trixie (debootstrap --variant=minbase) + Node.js 26 + npm at /usr/local.
#   localhost/mdp-base/node-runtime:26-trixie  plays gcr.io/distroless/nodejs26-debian13:nonroot
#       No shell, no package manager: the glibc/libstdc++ files Node needs, taken from the same
#       trixie tree, Node at /nodejs/bin/node (distroless' layout), users root/nobody/nonroot(65532).
#
# Node.js is the project's pinned version (.node-version): the official nodejs.org build, taken
# from the npm registry's node-linux-<arch> package (nodejs.org itself is not reachable from
# here), the same binary the `node` devDependency runs the tests with. npm is this machine's.
#
# Usage: scripts/make-base-images.sh [--force]   (idempotent: skips when both images exist)
# Env:   DEBIAN_MIRROR (default http://deb.debian.org/debian), MDP_BASE_WORKDIR (default /var/tmp)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/containers-env.sh
. "${ROOT}/scripts/lib/containers-env.sh"

force=false
case "${1:-}" in
  --force) force=true ;;
  "") ;;
  *) echo "usage: $0 [--force]" >&2; exit 2 ;;
esac

for tool in debootstrap podman npm tar; do
  command -v "$tool" >/dev/null || { echo "make-base-images: '$tool' is missing (run scripts/install-tools.d/images.sh)" >&2; exit 1; }
done
if [ "$(id -u)" != 0 ]; then echo "make-base-images: needs root (debootstrap, chroot)" >&2; exit 1; fi

if ! $force && podman image exists "$MDP_STANDIN_BUILD_BASE" && podman image exists "$MDP_STANDIN_RUNTIME_BASE"; then
  echo "make-base-images: $MDP_STANDIN_BUILD_BASE and $MDP_STANDIN_RUNTIME_BASE exist (--force rebuilds)"
  exit 0
fi

node_want="$(tr -d '[:space:]' <"${ROOT}/.node-version")"
npm_dir="$(npm root -g)/npm"
[ -f "$npm_dir/bin/npm-cli.js" ] || { echo "make-base-images: npm not found at $npm_dir" >&2; exit 1; }

work="$(mktemp -d "${MDP_BASE_WORKDIR:-/var/tmp}/mdp-base.XXXXXX")"
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

case "$(uname -m)" in
  x86_64) node_arch=x64 ;;
  aarch64) node_arch=arm64 ;;
  *) echo "make-base-images: no Node.js build for $(uname -m)" >&2; exit 1 ;;
esac
echo "make-base-images: Node.js $node_want (npm package node-linux-$node_arch)"
(cd "$work" && npm pack --silent "node-linux-${node_arch}@${node_want}" >/dev/null)
mkdir -p "$work/node" && tar -C "$work/node" -xzf "$work"/node-linux-"${node_arch}"-*.tgz
node_bin="$work/node/package/bin/node"
chmod 0755 "$node_bin"
node_version="$("$node_bin" --version)"
[ "$node_version" = "v${node_want}" ] || {
  echo "make-base-images: got node $node_version, expected v${node_want}" >&2
  exit 1
}

mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
echo "make-base-images: debootstrap $MDP_STANDIN_SUITE (minbase) from $mirror"
# libatomic1: the official Node.js 26 build links libatomic.so.1 (node:26-trixie-slim has it too).
debootstrap --variant=minbase --include=libatomic1 "$MDP_STANDIN_SUITE" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2
  exit 1
}
rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"* \
  "$work/rootfs/var/log/"*.log "$work/rootfs/var/cache/debconf/"*-old

# ---- build base: the whole minbase tree + Node.js and npm under /usr/local --------------------
rootfs="$work/rootfs"
install -D -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
mkdir -p "$rootfs/usr/local/lib/node_modules"
cp -a "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
# This machine's trust store goes into the BUILD base only (npm reaches the registry through a
# TLS-intercepting proxy here whose CA is in it); the runtime base keeps Node's bundled roots.
host_ca=/etc/ssl/certs/ca-certificates.crt
build_ca_env=()
if [ -s "$host_ca" ]; then
  install -D -m 0644 "$host_ca" "$rootfs/usr/local/share/mdp/host-ca-certificates.crt"
  build_ca_env=(--change 'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/mdp/host-ca-certificates.crt')
fi
env -u NODE_EXTRA_CA_CERTS chroot "$rootfs" /usr/local/bin/node --version >/dev/null

label_src="org.opencontainers.image.description=LOCAL STAND-IN base (scripts/make-base-images.sh), never published"
tar -C "$rootfs" -c . | podman import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["/usr/local/bin/node"]' \
  "${build_ca_env[@]}" \
  --change "LABEL ${label_src// /_}" \
  - "$MDP_STANDIN_BUILD_BASE" >/dev/null
echo "make-base-images: built $MDP_STANDIN_BUILD_BASE (node $node_version)"

# ---- runtime base: distroless-like, only what the node binary loads ---------------------------
rt="$work/runtime"
mkdir -p "$rt/nodejs/bin" "$rt/etc" "$rt/tmp" "$rt/home/nonroot" "$rt/root" "$rt/proc" "$rt/sys" "$rt/dev"
install -m 0755 "$node_bin" "$rt/nodejs/bin/node"
# Merged /usr like trixie itself: /lib and /lib64 are links, so no library is stored twice.
mkdir -p "$rt/usr/lib" "$rt/usr/lib64"
ln -s usr/lib "$rt/lib"
ln -s usr/lib64 "$rt/lib64"
# Every shared object the binary needs, as the trixie tree's own loader resolves it.
chroot "$rootfs" /usr/bin/ldd /usr/local/bin/node | awk '/=> \// { print $3 } /^\s*\/[^ ]+ \(/ { print $1 }' |
  while read -r lib; do
    real="$(chroot "$rootfs" /usr/bin/readlink -f "$lib")"
    mkdir -p "$rt$(dirname "$lib")"
    cp -L "$rootfs$real" "$rt$lib"
  done
# Like distroless cc (the base of distroless nodejs): all of glibc and the GCC runtime, not just
# what node itself links, so native addons (e.g. @node-rs/argon2 needs librt) load as upstream.
for pkg in libc6 libgcc-s1 libstdc++6; do
  chroot "$rootfs" dpkg -L "$pkg" | grep -E '\.so(\.[0-9.]+)?$' | grep -v /gconv/ | while read -r f; do
    if [ -e "$rootfs$f" ] || [ -L "$rootfs$f" ]; then
      mkdir -p "$rt$(dirname "$f")"
      cp -a --remove-destination "$rootfs$f" "$rt$f"
    fi
  done
done
cp "$rootfs/etc/os-release" "$rt/etc/os-release"
cat >"$rt/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
PASSWD
cat >"$rt/etc/group" <<'GROUP'
root:x:0:
nogroup:x:65534:
nonroot:x:65532:
GROUP
printf 'hosts: files dns\n' >"$rt/etc/nsswitch.conf"
: >"$rt/etc/hosts"
: >"$rt/etc/resolv.conf"
chmod 1777 "$rt/tmp"
chmod 0700 "$rt/root"
chown 65532:65532 "$rt/home/nonroot"
env -u NODE_EXTRA_CA_CERTS chroot "$rt" /nodejs/bin/node -e 'process.exit(0)'
if [ -e "$rt/bin/sh" ] || [ -e "$rt/usr/bin/sh" ]; then echo "make-base-images: runtime tree has a shell" >&2; exit 1; fi

tar -C "$rt" -c . | podman import \
  --change 'ENV PATH=/nodejs/bin:/usr/local/bin:/usr/bin:/bin' \
  --change 'USER 65532:65532' \
  --change 'WORKDIR /home/nonroot' \
  --change 'ENTRYPOINT ["/nodejs/bin/node"]' \
  --change "LABEL ${label_src// /_}" \
  - "$MDP_STANDIN_RUNTIME_BASE" >/dev/null
echo "make-base-images: built $MDP_STANDIN_RUNTIME_BASE"
podman images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep '^localhost/mdp-base/' || true
