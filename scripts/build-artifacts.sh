#!/usr/bin/env bash
# Builds what the roles install and no registry provides: the application image (as a
# `docker save` archive) and the simulator wheel. Writes an Ansible vars file naming them.
#
#   build-artifacts.sh OUTDIR   -> OUTDIR/artifacts.yml
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

outdir=${1:?usage: build-artifacts.sh OUTDIR}
mkdir -p "$outdir"

image=$("$REPO_ROOT/infrastructure/images/build.sh" webui)
archive="$outdir/webui-${image##*:}.tar"
if [[ ! -s $archive ]]; then
  log "saving $image to $archive"
  rm -f "$outdir"/webui-*.tar
  docker save "$image" -o "$archive.partial"
  mv "$archive.partial" "$archive"
fi

wheel_dir="$outdir/wheels/$(inputs_hash src pyproject.toml)"
if ! compgen -G "$wheel_dir/*.whl" >/dev/null; then
  log "building the project wheel"
  rm -rf "$outdir/wheels"
  python3 -m pip wheel -q --no-deps -w "$wheel_dir" "$REPO_ROOT"
fi
wheel=$(compgen -G "$wheel_dir/*.whl" | head -n 1)

cat >"$outdir/artifacts.yml" <<YAML
---
webapp_image: "$image"
webapp_image_archive: "$archive"
ollama_simulator_wheel: "$wheel"
YAML
echo "$outdir/artifacts.yml"
