#!/usr/bin/env bash
# Sourced by the project's container scripts: points podman, buildah and skopeo at the
# project's own configuration (containers/*.conf) instead of the machine-wide files.
# shellcheck shell=bash
_mdp_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export CONTAINERS_CONF="${CONTAINERS_CONF:-${_mdp_root}/containers/containers.conf}"
export CONTAINERS_STORAGE_CONF="${CONTAINERS_STORAGE_CONF:-${_mdp_root}/containers/storage.conf}"
export CONTAINERS_REGISTRIES_CONF="${CONTAINERS_REGISTRIES_CONF:-${_mdp_root}/containers/registries.conf}"
# chroot isolation for RUN steps of builds (no nested namespaces needed).
export BUILDAH_ISOLATION="${BUILDAH_ISOLATION:-chroot}"
# Local stand-in base images (scripts/make-base-images.sh); CI and tests pass them as build args.
# Their Node.js major and Debian suite follow the production bases (Dockerfile).
export MDP_STANDIN_SUITE="${MDP_STANDIN_SUITE:-trixie}"
export MDP_STANDIN_BUILD_BASE="${MDP_STANDIN_BUILD_BASE:-localhost/mdp-base/node-build:26-trixie}"
export MDP_STANDIN_RUNTIME_BASE="${MDP_STANDIN_RUNTIME_BASE:-localhost/mdp-base/node-runtime:26-trixie}"
unset _mdp_root
