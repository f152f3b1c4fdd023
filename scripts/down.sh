#!/usr/bin/env bash
# Tears the local topology down: machines, network and state. Cached images stay for the next `up`.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

if [[ -d $STATE_DIR ]]; then
  "$REPO_ROOT/infrastructure/terraform/local-down.sh" "$STATE_DIR"
  rm -rf "$STATE_DIR"
fi
log "the local topology is down"
