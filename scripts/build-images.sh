#!/usr/bin/env bash
# Builds the service images from the one parameterised Dockerfile, tags them per the platform
# contract and optionally pushes them. The same script serves CI and humans.
#
#   scripts/build-images.sh                         all services, tag sha-<7 hex>
#   scripts/build-images.sh --version 1.4.2 --channel staging --push user-service
#   scripts/build-images.sh --standin ...           use the local stand-in bases (no registry here)
#   scripts/build-images.sh --list [--json]         what the build produces (names + tag pattern)
#
# Image names: <registry>/<owner>/<service folder name>:<tag>, registry ghcr.io by default.
# Tags: semver X.Y.Z (--version), sha-<7 hex> (always, from git HEAD), channel dev|staging|stable.
#
# Options:
#   --engine auto|docker|podman   docker = docker buildx (needs a running engine); podman uses
#                                 buildah underneath (chroot isolation, the project's own config)
#   --registry HOST[:PORT]        default ghcr.io (env MDP_IMAGE_REGISTRY)
#   --owner NAME                  default env MDP_IMAGE_OWNER, else the GitHub owner of `origin`
#   --version X.Y.Z               adds the semver tag and the VERSION label
#   --channel dev|staging|stable  adds the channel tag
#   --push                        push every tag (TLS verification is off for 127.0.0.1/localhost)
#   --build-base IMG / --runtime-base IMG   override the Dockerfile's digest-pinned bases
#   --standin                     bases = the local stand-ins from scripts/make-base-images.sh
#   --platform LIST               docker buildx only (e.g. linux/amd64,linux/arm64)
#   --context DIR                 build context (default: the repository; git data always from it)
#   --list [--json]               print the image names and the tag pattern, build nothing
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/containers-env.sh
. "${ROOT}/scripts/lib/containers-env.sh"

TAG_PATTERN='^([0-9]+\.[0-9]+\.[0-9]+|sha-[0-9a-f]{7}|dev|staging|stable)$'
SEMVER_PATTERN='^[0-9]+\.[0-9]+\.[0-9]+$'

die() { echo "build-images: $*" >&2; exit 1; }

default_owner() {
  if [ -n "${MDP_IMAGE_OWNER:-}" ]; then echo "$MDP_IMAGE_OWNER"; return; fi
  local url
  url="$(git -C "$ROOT" remote get-url origin 2>/dev/null || true)"
  if [[ "$url" =~ github\.com[:/]([^/]+)/ ]]; then
    echo "${BASH_REMATCH[1]}" | tr '[:upper:]' '[:lower:]'
  else
    echo "owner"
  fi
}

all_services() {
  local d
  for d in "$ROOT"/services/*/; do
    [ -f "${d}package.json" ] && basename "$d"
  done
}

engine=auto registry="${MDP_IMAGE_REGISTRY:-ghcr.io}" owner="" version="" channel="" push=false
build_base="" runtime_base="" platform="" list=false json=false context="$ROOT"
services=()
while [ $# -gt 0 ]; do
  case "$1" in
    --engine) engine="${2:?}"; shift 2 ;;
    --registry) registry="${2:?}"; shift 2 ;;
    --owner) owner="${2:?}"; shift 2 ;;
    --version) version="${2:?}"; shift 2 ;;
    --channel) channel="${2:?}"; shift 2 ;;
    --push) push=true; shift ;;
    --build-base) build_base="${2:?}"; shift 2 ;;
    --runtime-base) runtime_base="${2:?}"; shift 2 ;;
    --standin) build_base="$MDP_STANDIN_BUILD_BASE"; runtime_base="$MDP_STANDIN_RUNTIME_BASE"; shift ;;
    --platform) platform="${2:?}"; shift 2 ;;
    --context) context="$(cd "${2:?}" && pwd)"; shift 2 ;;
    --list) list=true; shift ;;
    --json) json=true; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) services+=("$1"); shift ;;
  esac
done
[ -n "$owner" ] || owner="$(default_owner)"
[[ "$owner" =~ ^[a-z0-9][a-z0-9_.-]*$ ]] || die "owner '$owner' must be lowercase (OCI repository names are)"

known="$(all_services)"
if [ ${#services[@]} -eq 0 ]; then mapfile -t services <<<"$known"; fi
for s in "${services[@]}"; do
  grep -qx -- "$s" <<<"$known" || die "unknown service '$s' (known: $(echo "$known" | tr '\n' ' '))"
done

if $list; then
  if $json; then
    printf '{"registry":"%s","owner":"%s","tagPattern":"%s","images":[' "$registry" "$owner" "${TAG_PATTERN//\\/\\\\}"
    sep=""
    for s in "${services[@]}"; do
      printf '%s{"service":"%s","name":"%s/%s/%s"}' "$sep" "$s" "$registry" "$owner" "$s"
      sep=","
    done
    printf ']}\n'
  else
    for s in "${services[@]}"; do echo "$registry/$owner/$s"; done
    echo "tag-pattern $TAG_PATTERN"
  fi
  exit 0
fi

[ -z "$version" ] || [[ "$version" =~ $SEMVER_PATTERN ]] || die "--version must be X.Y.Z (got '$version')"
case "$channel" in ""|dev|staging|stable) ;; *) die "--channel must be dev, staging or stable" ;; esac

revision="$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"
short="$(git -C "$ROOT" rev-parse --short=7 HEAD 2>/dev/null || true)"
[ -n "$short" ] || die "not a git checkout: the sha-<7 hex> tag needs git HEAD"
created="$(git -C "$ROOT" log -1 --format=%cI 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)"
source_url="https://github.com/${owner}/microservices-deployment-pipeline"

tags=("sha-$short")
[ -z "$version" ] || tags+=("$version")
[ -z "$channel" ] || tags+=("$channel")

if [ "$engine" = auto ]; then
  if command -v docker >/dev/null && docker buildx version >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    engine=docker
  elif command -v podman >/dev/null && command -v buildah >/dev/null; then
    engine=podman
  else
    die "no engine: need docker buildx with a running engine, or podman + buildah (scripts/install-tools.d/images.sh)"
  fi
fi

tls_args=()
case "$registry" in 127.0.0.1*|localhost*) tls_args=(--tls-verify=false) ;; esac

build_args=(--build-arg "VERSION=${version:-0.0.0-dev}" --build-arg "REVISION=$revision"
  --build-arg "CREATED=$created" --build-arg "SOURCE=$source_url")
[ -z "$build_base" ] || build_args+=(--build-arg "BUILD_BASE=$build_base")
[ -z "$runtime_base" ] || build_args+=(--build-arg "RUNTIME_BASE=$runtime_base")

start=$SECONDS
for s in "${services[@]}"; do
  name="$registry/$owner/$s"
  tag_args=()
  for t in "${tags[@]}"; do tag_args+=(--tag "$name:$t"); done
  echo "build-images: $name (${tags[*]}) with $engine"
  t0=$SECONDS
  case "$engine" in
    docker)
      out=(--load)
      if $push; then out=(--push); fi
      docker buildx build ${platform:+--platform "$platform"} "${build_args[@]}" --build-arg "SERVICE=$s" \
        "${tag_args[@]}" "${out[@]}" -f "$context/Dockerfile" "$context"
      ;;
    podman)
      [ -z "$platform" ] || die "--platform is for docker buildx (podman builds the host platform here)"
      # buildah 1.28 (Debian 12) keys its layer cache on the LITERAL text of LABEL/ENV steps, not on
      # the build-arg values in them: a cached layer could carry another version's labels. And
      # `buildah bud --label/--env` would change every step's cache key. So: build with the cache,
      # then set the value-dependent labels and env on the result in one extra commit.
      # (docker buildx keys the cache on the values; there the Dockerfile's own LABEL/ENV apply.)
      iidfile="$(mktemp)"
      buildah bud --layers --quiet --iidfile "$iidfile" "${build_args[@]}" --build-arg "SERVICE=$s" \
        -f "$context/Dockerfile" "$context" >/dev/null
      ctr="$(buildah from --pull-never "$(cat "$iidfile")")"
      rm -f "$iidfile"
      buildah config \
        --label "org.opencontainers.image.title=$s" \
        --label "org.opencontainers.image.description=mdp $s (online shop microservice)" \
        --label "org.opencontainers.image.source=$source_url" \
        --label "org.opencontainers.image.url=$source_url" \
        --label "org.opencontainers.image.version=${version:-0.0.0-dev}" \
        --label "org.opencontainers.image.revision=$revision" \
        --label "org.opencontainers.image.created=$created" \
        --label "io.mdp.service=$s" \
        --env "OTEL_SERVICE_NAME=$s" --env "SERVICE_VERSION=${version:-0.0.0-dev}" --env "GIT_COMMIT=$revision" \
        "$ctr"
      buildah commit --quiet --rm "$ctr" "$name:${tags[0]}" >/dev/null
      for t in "${tags[@]:1}"; do buildah tag "$name:${tags[0]}" "$name:$t"; done
      if $push; then
        for t in "${tags[@]}"; do podman push --quiet "${tls_args[@]}" "$name:$t"; done
      fi
      echo "build-images: $name $(podman image inspect --format '{{.Size}}' "$name:${tags[0]}") bytes, $((SECONDS - t0)) s"
      ;;
    *) die "unknown engine '$engine'" ;;
  esac
done
echo "build-images: ${#services[@]} image(s) in $((SECONDS - start)) s"
