#!/usr/bin/env bash
# Destroys the local topology that local-up.sh created in STATE_DIR: every container and the
# network. The SSH key and Pebble's certificates stay, so that the next `up` reuses them.
#
#   local-down.sh STATE_DIR
set -euo pipefail
shopt -s inherit_errexit

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/../../scripts/lib.sh"

[[ $# -eq 1 ]] || die "usage: $0 STATE_DIR"
[[ -d $1 ]] || { log "no state folder $1: nothing to destroy"; exit 0; }
state=$(cd "$1" && pwd)
env_dir=$here/environments/local

[[ -f $state/terraform.tfvars.json ]] || { log "no topology recorded in $state: nothing to destroy"; exit 0; }
prefix=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["name_prefix"])' "$state/terraform.tfvars.json")

eval "$("$here/offline/prepare.sh" --env)"
export TF_DATA_DIR=$state/.terraform
log "terraform destroy of the local topology $prefix"
terraform -chdir="$env_dir" init -upgrade -input=false -no-color -backend-config="path=$state/terraform.tfstate" >"$state/init.log"
terraform -chdir="$env_dir" destroy -input=false -no-color -auto-approve -var-file="$state/terraform.tfvars.json" >"$state/destroy.log" ||
  { tail -n 40 "$state/destroy.log" >&2; die "terraform destroy failed (full log: $state/destroy.log)"; }

# Prove the promise instead of trusting it: nothing labelled with this topology may remain.
leftovers=$(docker ps -aq --filter "label=ollama-qa.topology=$prefix")
[[ -z $leftovers ]] || die "containers of $prefix are still there: $leftovers"
! docker network inspect "$prefix-net" >/dev/null 2>&1 || die "network $prefix-net is still there"
rm -f "$state/inventory.yml" "$state/terraform.tfstate" "$state/terraform.tfstate.backup"
log "local topology $prefix removed"
