#!/usr/bin/env bash
# Serves the app on 127.0.0.1:8000 against the simulator on 127.0.0.1:11434, login off: the
# quickest loop for working on the page. Ctrl-C stops both.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

venv="$CACHE_DIR/dev-venv"
if [[ ! -x $venv/bin/webui ]]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -e "$REPO_ROOT[simulator]"
fi

"$venv/bin/python" -m ollama_sim --host 127.0.0.1 --port 11434 &
sim_pid=$!
trap 'kill "$sim_pid"' EXIT
WEBUI_REQUIRE_LOGIN=false WEBUI_OLLAMA_URL=http://127.0.0.1:11434 \
  "$venv/bin/python" -m webui serve --host 127.0.0.1 --port 8000
