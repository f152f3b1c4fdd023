#!/usr/bin/env bash
# Runs site.yml against the local topology's generated inventory, exactly as an operator runs it
# against the cloud's, plus the local environment's vars, secrets and artifacts.
# Extra arguments go to ansible-playbook.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

exec env ANSIBLE_CONFIG="$REPO_ROOT/infrastructure/ansible/ansible.cfg" \
  "$TOOLS_VENV/bin/ansible-playbook" \
  -i "$STATE_DIR/inventory.yml" \
  -e "@$REPO_ROOT/infrastructure/ansible/environments/local.yml" \
  -e "@$STATE_DIR/artifacts/artifacts.yml" \
  -e "@$STATE_DIR/secrets.yml" \
  "$REPO_ROOT/infrastructure/ansible/site.yml" "$@"
