#!/usr/bin/env bash
# Builds the engines of tools/engines.tsv from their pinned Go modules and links their
# binaries into <repo>/.tools/bin (git-ignored). Called by scripts/install-tools.sh (through
# scripts/install-tools.d/engines.sh); can be run alone:
#   scripts/build-engines.sh             every engine
#   scripts/build-engines.sh kwok etcd   only those
#
# Built binaries live in a per-machine cache outside the clone, one entry per engine, version
# and content of its tools/<dir> (go.mod, go.sum, sources, builder config) plus the Go version:
#   ${MDP_TOOLS_HOME:-$HOME/.cache/mdp-tools}/<engine>-<version>-<hash>/bin/
# so a fresh clone on a machine that built them before only links them. Go's own module and
# build caches are left alone (they make a rebuild after a version bump incremental).
# Idempotent and safe to run from several clones at once (one lock per cache entry).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_HOME="${MDP_TOOLS_HOME:-$HOME/.cache/mdp-tools}"
BIN_DIR="$ROOT/.tools/bin"
# Bumped when the way an engine is built changes, so that every cache entry is rebuilt.
RECIPE=1

export GOTOOLCHAIN=local GOFLAGS="-buildvcs=false -mod=readonly" CGO_ENABLED=0
if ! command -v go >/dev/null 2>&1; then
  if [ -x /usr/local/go/bin/go ]; then
    export PATH="/usr/local/go/bin:$PATH"
  else
    echo "build-engines: Go is missing (expected /usr/local/go/bin/go, Go >= 1.26)" >&2
    exit 1
  fi
fi
GO_VERSION="$(go env GOVERSION)"

mkdir -p "$TOOLS_HOME" "$BIN_DIR"

# The version of MODULE required by DIR/go.mod.
module_version() {
  awk -v m="$2" '($1 == "require" && $2 == m) { print $3; exit } ($1 == m && $2 ~ /^v/) { print $2; exit }' "$1/go.mod"
}

engine_version() {
  local dir="$1" module="$2"
  if [ "$module" = npm ]; then
    # An npm tool: the exact version its package.json pins (the lockfile pins the rest).
    echo "v$(sed -n 's/^ *"[^"]*": "\([0-9][^"]*\)".*/\1/p' "$dir/package.json" | head -n 1)"
  elif [ "$module" = ocb ]; then
    echo "v$(awk '/^dist:/ { d = 1; next } /^[^ #]/ { d = 0 } d && $1 == "version:" { print $2; exit }' "$dir/builder-config.yaml")"
  else
    module_version "$dir" "$module"
  fi
}

# Hash of everything that decides what an engine's binaries are.
engine_hash() {
  local dir="$1" extra="$2"
  {
    echo "recipe=$RECIPE go=$GO_VERSION extra=$extra"
    (cd "$dir" && find . -type f \( -name 'go.mod' -o -name 'go.sum' -o -name '*.go' -o -name '*.yaml' \
      -o -name 'package.json' -o -name 'package-lock.json' \) -print0 |
      LC_ALL=C sort -z | xargs -0 sha256sum)
  } | sha256sum | cut -c1-12
}

expand_ldflags() {
  local ld="$1" v="$2" n="${2#v}"
  [ "$ld" = "-" ] && ld=""
  local major="${n%%.*}" rest="${n#*.}"
  local minor="${rest%%.*}"
  ld="${ld//\{v\}/$v}"
  ld="${ld//\{n\}/$n}"
  ld="${ld//\{major\}/$major}"
  ld="${ld//\{minor\}/$minor}"
  printf '%s' "$ld"
}

# build_go ENTRY_TMP DIR LDFLAGS ENV NAME=PKG...
build_go() {
  local out="$1" dir="$2" ld="$3" env="$4"
  shift 4
  local spec name pkg
  [ "$env" = "-" ] && env=""
  for spec in "$@"; do
    name="${spec%%=*}"
    pkg="${spec#*=}"
    # shellcheck disable=SC2086 # env is a list of NAME=value words
    (cd "$dir" && env $env go build -trimpath -ldflags "-s -w $ld" -o "$out/bin/$name" "$pkg")
  done
}

# build_ocb ENTRY_TMP DIR NAME: a collector distribution from DIR/builder-config.yaml.
build_ocb() {
  local out="$1" dir="$2" name="$3"
  local ocb="$BIN_DIR/ocb"
  [ -x "$ocb" ] || { echo "build-engines: $name needs the ocb engine first" >&2; return 1; }
  mkdir -p "$out/build"
  cp "$dir/builder-config.yaml" "$out/build/"
  # ocb generates a main module and runs go mod tidy / go build in it; -mod=readonly would stop it.
  (cd "$out/build" && GOFLAGS=-buildvcs=false "$ocb" --config builder-config.yaml >"$out/build/ocb.log" 2>&1) || {
    tail -n 40 "$out/build/ocb.log" >&2
    return 1
  }
  mkdir -p "$out/bin"
  mv "$out/build/src/$name" "$out/bin/$name"
  rm -rf "$out/build"
}

# build_entry ENTRY_TMP DIR MODULE LDFLAGS ENV BINARY...
# build_npm ENTRY_TMP DIR NAME=BIN...: an npm tool from DIR's package.json and lockfile (npm ci,
# no install scripts), each NAME linked to node_modules/.bin/BIN.
build_npm() {
  local out="$1" dir="$2"
  shift 2
  cp "$dir/package.json" "$dir/package-lock.json" "$out/"
  (cd "$out" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null) || return 1
  local spec
  for spec in "$@"; do
    ln -sfn "../node_modules/.bin/${spec#*=}" "$out/bin/${spec%%=*}"
  done
}

build_entry() {
  local out="$1" dir="$2" module="$3" ld="$4" env="$5"
  shift 5
  case "$module" in
    ocb) build_ocb "$out" "$dir" "$@" ;;
    npm) build_npm "$out" "$dir" "$@" ;;
    *) build_go "$out" "$dir" "$ld" "$env" "$@" ;;
  esac
}

want() {
  [ "$#" -le 1 ] && return 0
  local e="$1" x
  shift
  for x in "$@"; do [ "$x" = "$e" ] && return 0; done
  return 1
}

# build_one ENGINE DIR MODULE BINARIES LDFLAGS ENV: build (or find cached) and link one engine.
build_one() {
  local engine="$1" dir="$2" module="$3" binaries="$4" ldflags="$5" env="$6"
  local t0 tdir version extra entry what tmp spec name
  t0=$(date +%s)
  tdir="$ROOT/tools/$dir"
  version="$(engine_version "$tdir" "$module")"
  if [ -z "$version" ]; then
    echo "build-engines: $engine: no version of $module in tools/$dir" >&2
    return 1
  fi
  extra="$ldflags"
  [ "$env" = "-" ] || extra="$extra env=$env"
  # A collector distribution also depends on the ocb that builds it.
  [ "$module" = ocb ] && extra="$extra ocb=$(readlink -f "$BIN_DIR/ocb" 2>/dev/null || echo none)"
  entry="$TOOLS_HOME/$engine-$version-$(engine_hash "$tdir" "$extra")"
  what=cached
  if [ ! -e "$entry/.complete" ]; then
    exec 9>"$entry.lock"
    flock 9
    if [ ! -e "$entry/.complete" ]; then
      what=built
      tmp="$entry.tmp.$$.$BASHPID"
      rm -rf "$tmp"
      mkdir -p "$tmp/bin"
      # shellcheck disable=SC2086 # binaries is a space-separated list
      if build_entry "$tmp" "$tdir" "$module" "$(expand_ldflags "$ldflags" "$version")" "$env" $binaries; then
        rm -rf "$entry"
        mv "$tmp" "$entry"
        touch "$entry/.complete"
      else
        rm -rf "$tmp"
        echo "build-engines: $engine $version FAILED" >&2
        exec 9>&-
        return 1
      fi
    fi
    exec 9>&-
  fi
  for spec in $binaries; do
    name="${spec%%=*}"
    ln -sfn "$entry/bin/$name" "$BIN_DIR/$name"
  done
  echo "build-engines: $engine $version $what in $(($(date +%s) - t0)) s"
}

# Engines build MDP_ENGINE_JOBS at a time (default 2): one Go build alone leaves a core idle while
# it downloads modules, links, or compiles the last packages of a dependency chain. An engine
# waits for the engines of its `after` column (comma-separated) that are part of this run: the
# collector needs ocb, and is built after Jaeger so that the packages they share (same module
# versions) come from Go's build cache instead of being compiled twice.
JOBS="${MDP_ENGINE_JOBS:-2}"
STATE="$(mktemp -d)"
trap 'rm -rf "$STATE"' EXIT
declare -a ORDER=()
declare -A LINE=()
while IFS=$'\t' read -r engine dir module binaries ldflags env after; do
  case "$engine" in '' | '#'* | engine) continue ;; esac
  want "$engine" "$@" || continue
  ORDER+=("$engine")
  LINE[$engine]="$dir"$'\t'"$module"$'\t'"$binaries"$'\t'"$ldflags"$'\t'"$env"$'\t'"${after:--}"
done <"$ROOT/tools/engines.tsv"

running() { jobs -pr | wc -l; }
# ready ENGINE: every engine of its `after` column that is part of this run has finished.
ready() {
  local dep after="${LINE[$1]##*$'\t'}"
  [ "$after" = "-" ] && return 0
  for dep in ${after//,/ }; do
    [ -n "${LINE[$dep]:-}" ] || continue
    [ -e "$STATE/$dep.done" ] || return 1
  done
}
started=$(date +%s)
pending=("${ORDER[@]}")
while [ "${#pending[@]}" -gt 0 ]; do
  next=()
  for engine in "${pending[@]}"; do
    if [ "$(running)" -lt "$JOBS" ] && ready "$engine"; then
      IFS=$'\t' read -r dir module binaries ldflags env _ <<<"${LINE[$engine]}"
      (
        build_one "$engine" "$dir" "$module" "$binaries" "$ldflags" "$env" || touch "$STATE/$engine.failed"
        touch "$STATE/$engine.done"
      ) &
    else
      next+=("$engine")
    fi
  done
  pending=("${next[@]}")
  if [ "${#pending[@]}" -gt 0 ] && [ "$(running)" -eq 0 ]; then
    echo "build-engines: the 'after' columns of ${pending[*]} form a cycle" >&2
    exit 1
  fi
  # A slot frees or a dependency finishes: look again.
  [ "${#pending[@]}" -eq 0 ] || wait -n || true
done
wait
status=0
for engine in "${ORDER[@]}"; do
  [ -e "$STATE/$engine.failed" ] && status=1
done
echo "build-engines: total $(($(date +%s) - started)) s (cache $TOOLS_HOME, $JOBS at a time)"
exit "$status"
