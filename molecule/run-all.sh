#!/usr/bin/env bash
# Runs every Molecule scenario in this folder (or those named as arguments), each with its
# idempotence step, on the locally built systemd image.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OLLAMA_QA_VM_IMAGE=$("$here/../infrastructure/images/build.sh" vm)
export OLLAMA_QA_VM_IMAGE
cd "$here/.."
if (($#)); then
  for scenario in "$@"; do molecule test -s "$scenario"; done
else
  molecule test --all
fi
