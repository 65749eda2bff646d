#!/usr/bin/env bash
# Installs what the tests need on a fresh machine of this kind (Debian bookworm, root), and
# nothing more. Idempotent: a second run changes nothing and takes seconds.
# Each area may add its own steps as scripts/install-tools.d/<area>.sh (sourced in order).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(curl ca-certificates)
# Areas append to APT_PACKAGES in their install-tools.d scripts' `packages` function.
for f in scripts/install-tools.d/*.sh; do
  [ -e "$f" ] || continue
  # shellcheck source=/dev/null
  source "$f"
done

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-tools: apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# RabbitMQ's management API: the tests create and drop a vhost per suite through it.
if ! curl -fsS -o /dev/null -u guest:guest http://127.0.0.1:15672/api/overview 2>/dev/null; then
  echo "install-tools: enabling rabbitmq_management"
  rabbitmq-plugins enable --quiet rabbitmq_management >/dev/null
  for _ in $(seq 1 60); do
    curl -fsS -o /dev/null -u guest:guest http://127.0.0.1:15672/api/overview 2>/dev/null && break
    sleep 1
  done
  curl -fsS -o /dev/null -u guest:guest http://127.0.0.1:15672/api/overview
fi

# Area hooks that must run after the packages are there.
for f in scripts/install-tools.d/*.sh; do
  [ -e "$f" ] || continue
  if declare -F "after_install_$(basename "$f" .sh | tr '-' '_')" >/dev/null; then
    "after_install_$(basename "$f" .sh | tr '-' '_')"
  fi
done
echo "install-tools: ok"
