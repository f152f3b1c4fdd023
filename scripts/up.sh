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

# Secrets of this topology: each generated once, readable by the owner only, never in the clone.
# A secrets.yml from before a secret existed gets it added; the values it holds stay.
secrets="$STATE_DIR/secrets.yml"
if [[ ! -s $secrets ]]; then
  (umask 077 && echo "---" >"$secrets")
fi
for name in vault_llm_gateway_token vault_webapp_admin_password \
  vault_postgresql_owner_password vault_postgresql_app_password; do
  if ! grep -q "^$name:" "$secrets"; then
    log "generating $name in $secrets"
    printf '%s: "%s"\n' "$name" "$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')" >>"$secrets"
  fi
done

"$REPO_ROOT/infrastructure/terraform/local-up.sh" "$STATE_DIR"
"$here/converge.sh"
record_timing "make up, after the host's set-up" $((SECONDS - started))
"$here/show-access.sh"
