#!/usr/bin/env bash
# Builds the container images the local topology and the Molecule scenarios need, with no
# registry: a Debian base from debootstrap, then images built on it. Each image is tagged with a
# hash of its inputs, so an unchanged image is never rebuilt and a changed one always is.
#
#   build.sh base|vm|acme|webui   prints the tag of the image it ensured
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/../../scripts/lib.sh"

debian_suite=bookworm
debian_mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

ensure_base() {
  # Keyed on this script, which is the base image's whole recipe.
  local tag="ollama-qa/debian:$debian_suite-$(inputs_hash infrastructure/images/build.sh)"
  if ! image_exists "$tag"; then
    local rootfs
    rootfs=$(mktemp -d)
    log "debootstrapping Debian $debian_suite into $rootfs"
    debootstrap --variant=minbase "$debian_suite" "$rootfs" "$debian_mirror" >/dev/null
    # mktemp made the root 0700; a storage driver such as vfs would apply that to the image's /.
    chmod 0755 "$rootfs"
    tar -C "$rootfs" -c . | docker import - "$tag" >/dev/null
    rm -rf "$rootfs"
  fi
  echo "$tag"
}

# Builds folder $1 on top of the base image, tagged with the hash of the folder and of any extra
# context paths ($3...), which are copied into the build context under their repository paths.
ensure_from_folder() {
  local name=$1 folder=$2; shift 2
  local base tag context
  base=$(ensure_base)
  # The tag covers the build context and the base image it starts from.
  tag="ollama-qa/$name:$({ inputs_hash "$folder" "$@"; docker image inspect -f '{{.Id}}' "$base"; } | sha256sum | cut -c1-16)"
  if ! image_exists "$tag"; then
    context=$(mktemp -d)
    cp -a "$REPO_ROOT/$folder/." "$context/"
    # A host behind a TLS-intercepting proxy trusts its CA through /usr/local/share/ca-certificates;
    # images that fetch from PyPI trust what the host trusts (extra-ca/ is never in the repository).
    mkdir -p "$context/extra-ca"
    find /usr/local/share/ca-certificates -maxdepth 1 -name '*.crt' -exec cp {} "$context/extra-ca/" \; 2>/dev/null || true
    for extra in "$@"; do
      mkdir -p "$context/$(dirname "$extra")"
      cp -a "$REPO_ROOT/$extra" "$context/$extra"
    done
    log "building $tag"
    docker build -q --network host --build-arg "BASE_IMAGE=$base" -t "$tag" "$context" >/dev/null
    docker tag "$tag" "ollama-qa/$name:latest"
    rm -rf "$context"
  fi
  echo "$tag"
}

case "${1:-}" in
  base) ensure_base ;;
  vm) ensure_from_folder vm infrastructure/images/vm ;;
  acme) ensure_from_folder acme infrastructure/images/acme ;;
  webui) ensure_from_folder webui infrastructure/images/webui src pyproject.toml README.md ;;
  *) die "usage: $0 base|vm|acme|webui" ;;
esac
