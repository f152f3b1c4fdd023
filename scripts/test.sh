#!/usr/bin/env bash
# The README's test command, and what CI runs: every check, from a fresh machine.
#   1. static checks, unit tests, Playwright against the app, Terraform, Molecule;
#   2. the local topology brought up as `make up` does (or reused if it is already up),
#      converged a second time to prove idempotence, then testinfra and Playwright through
#      HAProxy against it, then TLS, headers and hostile input, and last the resilience tests,
#      which stop and restart machines and services. The benchmark prints numbers rather than
#      passing or failing a run, so it is run by hand (README, "Performance and resilience").
# A topology this script started is torn down at the end; set OLLAMA_QA_KEEP=1 to keep it.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

"$here/bootstrap-host.sh"
# tox's environments live in the cache, so that a fresh clone reuses them while deps are unchanged.
tox=("$TOOLS_VENV/bin/tox" --workdir "$CACHE_DIR/tox")

"${tox[@]}" run -e lint,unit,e2e-app,terraform
"${tox[@]}" run -e molecule

started_here=false
if [[ ! -s $STATE_DIR/inventory.yml ]]; then
  started_here=true
  if [[ ${OLLAMA_QA_KEEP:-0} != 1 ]]; then
    trap '"$here/down.sh"' EXIT
  fi
fi
"$here/up.sh"

log "converging a second time: nothing may change"
started=$SECONDS
# Shown on stderr through the inherited descriptor: "tee /dev/stderr" would reopen a log file
# that stderr is redirected to, and truncate everything logged before.
converge_log=$STATE_DIR/second-converge.log
"$here/converge.sh" | tee "$converge_log" >&2
recap=$(sed -n '/PLAY RECAP/,$p' "$converge_log")
record_timing "second converge" $((SECONDS - started))
if grep -E 'changed=[1-9]|failed=[1-9]|unreachable=[1-9]' <<<"$recap"; then
  die "the second converge changed something or failed (see the recap above)"
fi
log "second converge: 0 changed"

# What the suites need to find and trust the topology, and to log in as its first user.
export OLLAMA_QA_INVENTORY=$STATE_DIR/inventory.yml
export OLLAMA_QA_CA_FILE=$STATE_DIR/acme-root.pem
export OLLAMA_QA_USERNAME=admin
OLLAMA_QA_PASSWORD=$("$TOOLS_VENV/bin/python" -c \
  'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["vault_webapp_admin_password"])' \
  "$STATE_DIR/secrets.yml")
export OLLAMA_QA_PASSWORD
"${tox[@]}" run -e infra,e2e
"${tox[@]}" run -e security
"${tox[@]}" run -e resilience
log "all checks passed (topology started here: $started_here)"
