# Shared settings for the scripts in this folder; sourced, never run.
# Caches live outside the clone so that a fresh clone reuses what an earlier run built,
# and every cached artefact is keyed on a hash of its inputs.

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE_DIR=${OLLAMA_QA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ollama-qa}
TOOLS_VENV=$CACHE_DIR/tools-venv
# The local topology's state (SSH key, inventory, Terraform state) stays outside the clone too,
# so that a teardown from any clone finds what an earlier `up` created.
STATE_DIR=${OLLAMA_QA_STATE:-$CACHE_DIR/local-topology}
export REPO_ROOT CACHE_DIR TOOLS_VENV STATE_DIR

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

sudo_if_needed() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

# Installs the Debian packages among the arguments that are not installed yet.
ensure_debian_packages() {
  local pkg missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    log "installing Debian packages: ${missing[*]}"
    sudo_if_needed apt-get update -qq
    DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
  fi
}

# Hash of files and folders, for cache keys.
inputs_hash() {
  (cd "$REPO_ROOT" && find "$@" -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
}

# Keep how long a step took beside the topology's state, for the benchmark's report.
record_timing() {
  "$TOOLS_VENV/bin/python" - "$STATE_DIR/timings.json" "$1" "$2" <<'PY'
import json, pathlib, sys
path, name, seconds = pathlib.Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
timings = json.loads(path.read_text()) if path.exists() else {}
timings[name] = f"{seconds} s"
path.write_text(json.dumps(timings, indent=2) + "\n")
PY
}
