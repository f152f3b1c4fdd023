#!/usr/bin/env bash
# The main job: from nothing to the page served over HTTPS by the local topology.
# Builds what is missing, creates the machines with Terraform, configures them with the same
# Ansible playbook as the cloud (over SSH, from the generated inventory), then prints the URL.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

"$here/bootstrap-host.sh"
started=$SECONDS
mkdir -p "$STATE_DIR"
chmod 0700 "$STATE_DIR"

"$here/build-artifacts.sh" "$STATE_DIR/artifacts" --ollama >/dev/null

# Secrets of this topology: generated once, readable by the owner only, never in the clone.
secrets="$STATE_DIR/secrets.yml"
if [[ ! -s $secrets ]]; then
  log "generating this topology's secrets in $secrets"
  (umask 077 && python3 - >"$secrets" <<'PY'
import secrets
print("---")
for name in ("vault_webapp_session_secret", "vault_llm_gateway_token", "vault_webapp_admin_password"):
    print(f'{name}: "{secrets.token_urlsafe(32)}"')
PY
  )
fi

"$REPO_ROOT/infrastructure/terraform/local-up.sh" "$STATE_DIR"
"$here/converge.sh"
record_timing "make up, after the host's set-up" $((SECONDS - started))
"$here/show-access.sh"
