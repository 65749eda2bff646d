#!/usr/bin/env bash
# npm run tools:versions — one line per engine binary: `name version path`.
# The Go engines come from tools/engines.tsv (version from its pinned go.mod, path in
# .tools/bin); Prometheus, promtool, Alertmanager and amtool are Debian's; kubectl is the
# machine's. Exit 1 when one is missing (run scripts/install-tools.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
missing=0

line() { # name version path
  if [ -n "$3" ] && [ -x "$3" ]; then
    printf '%-24s %-12s %s\n' "$1" "$2" "$3"
  else
    printf '%-24s %-12s %s\n' "$1" "${2:--}" "MISSING"
    missing=1
  fi
}

while IFS=$'\t' read -r engine dir module binaries _; do
  case "$engine" in '' | '#'* | engine) continue ;; esac
  if [ "$module" = npm ]; then
    version="v$(sed -n 's/^ *"[^"]*": "\([0-9][^"]*\)".*/\1/p' "$ROOT/tools/$dir/package.json" | head -n 1)"
  elif [ "$module" = ocb ]; then
    version="v$(awk '/^dist:/ { d = 1; next } /^[^ #]/ { d = 0 } d && $1 == "version:" { print $2; exit }' "$ROOT/tools/$dir/builder-config.yaml")"
  else
    version="$(awk -v m="$module" '($1 == "require" && $2 == m) { print $3; exit } ($1 == m && $2 ~ /^v/) { print $2; exit }' "$ROOT/tools/$dir/go.mod")"
  fi
  for spec in $binaries; do
    name="${spec%%=*}"
    path="$ROOT/.tools/bin/$name"
    [ -e "$path" ] || path=""
    line "$name" "$version" "$path"
  done
done <"$ROOT/tools/engines.tsv"

deb_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || true; }
line prometheus "$(deb_version prometheus)" "$(command -v prometheus || true)"
line promtool "$(deb_version prometheus)" "$(command -v promtool || true)"
line alertmanager "$(deb_version prometheus-alertmanager)" "$(command -v prometheus-alertmanager || true)"
line amtool "$(deb_version prometheus-alertmanager)" "$(command -v amtool || true)"
kubectl_version="$(kubectl version --client -o json 2>/dev/null | sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p' | head -n 1 || true)"
line kubectl "$kubectl_version" "$(command -v kubectl || true)"
line go "$(go env GOVERSION 2>/dev/null || /usr/local/go/bin/go env GOVERSION 2>/dev/null || true)" "$(command -v go || echo /usr/local/go/bin/go)"

if [ "$missing" -ne 0 ]; then
  echo "tools:versions: some tools are missing; run: bash scripts/install-tools.sh" >&2
  exit 1
fi
