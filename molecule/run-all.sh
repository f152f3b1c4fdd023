#!/usr/bin/env bash
# Runs every Molecule scenario in this folder (or those named as arguments), each with its
# idempotence step, on the locally built systemd image. Scenarios are independent (each names its
# own instances), so MOLECULE_JOBS of them run at once; each one's output goes to its own log,
# printed whole when it fails.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OLLAMA_QA_VM_IMAGE=$("$here/../infrastructure/images/build.sh" vm)
export OLLAMA_QA_VM_IMAGE
cd "$here/.."

if (($#)); then
  scenarios=("$@")
else
  mapfile -t scenarios < <(find molecule -mindepth 2 -maxdepth 2 -name molecule.yml -printf '%h\n' | xargs -n1 basename | sort)
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
