#!/usr/bin/env bash
# Prints how to reach the local topology's page: URL, address, the ACME CA to trust, and the
# initial user (its password only on a terminal; in logs, where to read it).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

"$TOOLS_VENV/bin/ansible-inventory" -i "$STATE_DIR/inventory.yml" --list |
  "$TOOLS_VENV/bin/python" "$here/access_info.py" "$STATE_DIR" "$([[ -t 1 ]] && echo tty || echo log)"
