#!/usr/bin/env bash
# Serves the app on 127.0.0.1:8000 against the simulator on 127.0.0.1:11434, login off: the
# quickest loop for working on the page. Conversations are kept in an SQLite file under the cache
# (`webui serve` brings it to the app's schema), so no database server is needed. Ctrl-C stops both.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

# Editable, so the code is the clone's; reinstalled when pyproject.toml (the dependencies) changes.
venv="$CACHE_DIR/dev-venv"
venv_stamp="$venv/.inputs-$(inputs_hash pyproject.toml)"
if [[ ! -e $venv_stamp ]]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -e "$REPO_ROOT[simulator]"
  touch "$venv_stamp"
fi

"$venv/bin/python" -m ollama_sim --host 127.0.0.1 --port 11434 &
sim_pid=$!
trap 'kill "$sim_pid"' EXIT
mkdir -p "$CACHE_DIR"
WEBUI_REQUIRE_LOGIN=false WEBUI_OLLAMA_URL=http://127.0.0.1:11434 \
  WEBUI_DATABASE_URL="sqlite:///$CACHE_DIR/dev-webui.sqlite3" \
  "$venv/bin/python" -m webui serve --host 127.0.0.1 --port 8000
