#!/usr/bin/env bash
# Runs every Molecule scenario in this folder (or those named as arguments), each with its
# idempotence step, on the locally built systemd image. Scenarios are independent (each names its
# own instances), so MOLECULE_JOBS of them run at once; each one's output goes to its own log,
# printed whole when it fails. The ollama scenario converges the real Ollama built from source
# and a real model: OLLAMA_QA_OLLAMA_BINARY and OLLAMA_QA_OLLAMA_GGUF name them, taken from
# `python3 -m lifecycle ollama` and `model` unless already set (both cache outside the clone;
# the first build takes about 10 minutes).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OLLAMA_QA_VM_IMAGE=$(python3 -m lifecycle image vm)
export OLLAMA_QA_VM_IMAGE

if (($#)); then
  scenarios=("$@")
else
  mapfile -t scenarios < <(find molecule -mindepth 2 -maxdepth 2 -name molecule.yml -printf '%h\n' | xargs -n1 basename | sort)
fi

ollama_artefact() {
  local name=$1 command=$2 path
  path=${!name:-}
  if [[ -z $path ]]; then
    path=$(python3 -m lifecycle "$command") || { echo "run-all.sh: python3 -m lifecycle $command failed; the ollama scenario needs its output in $name" >&2; exit 1; }
  fi
  [[ -f $path ]] || { echo "run-all.sh: $name=$path is not a file; the ollama scenario needs it" >&2; exit 1; }
  export "$name=$path"
}
if [[ " ${scenarios[*]} " == *" ollama "* ]]; then
  ollama_artefact OLLAMA_QA_OLLAMA_BINARY ollama
  ollama_artefact OLLAMA_QA_OLLAMA_GGUF model
fi

logs=$(mktemp -d)

run_one() {
  local scenario=$1 logs=$2 started=$SECONDS
  if molecule test -s "$scenario" >"$logs/$scenario.log" 2>&1; then
    printf 'molecule %-12s passed in %3d s\n' "$scenario" $((SECONDS - started))
  else
    printf 'molecule %-12s FAILED after %3d s; its log follows\n' "$scenario" $((SECONDS - started))
    cat "$logs/$scenario.log"
    return 1
  fi
}
export -f run_one

status=0
printf '%s\n' "${scenarios[@]}" | xargs -P "${MOLECULE_JOBS:-3}" -I{} bash -c 'run_one "$1" "$2"' _ {} "$logs" || status=$?
rm -rf "$logs"
if ((status == 0)); then
  echo "molecule: ${#scenarios[@]} passed, 0 failed"
fi
exit "$status"
