#!/usr/bin/env bash
# Creates the local topology (systemd "VM" containers lb, web1..N, llm1..N, db and a Pebble ACME
# server on one Docker network) and writes STATE_DIR/inventory.yml for Ansible. Everything it
# generates (SSH key, Pebble's HTTPS CA and certificate, Terraform state) lives in STATE_DIR, never
# in the clone.
#
#   local-up.sh STATE_DIR
#
# Settings (environment): OLLAMA_QA_LOCAL_PREFIX (container/network name prefix, ollama-qa-local),
# OLLAMA_QA_LOCAL_SUBNET (172.30.57.0/24), OLLAMA_QA_WEB_COUNT (2), OLLAMA_QA_LLM_INSTALL_METHODS
# (one ollama_install_method per LLM machine, comma-separated, e.g. binary,simulator; unset takes
# the llm_machines default of environments/local). They are fixed at the first `up` of a
# STATE_DIR, so that local-down.sh always removes what was created.
set -euo pipefail
shopt -s inherit_errexit

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/../../scripts/lib.sh"

[[ $# -eq 1 ]] || die "usage: $0 STATE_DIR"
mkdir -p "$1"
state=$(cd "$1" && pwd)
chmod 0700 "$state"
env_dir=$here/environments/local
acme_hostname=acme.ollama-qa.test
ssh_wait_seconds=180

ensure_ssh_key() {
  if [[ ! -f $state/id_ed25519 ]]; then
    log "generating the SSH key Ansible logs in with"
    ssh-keygen -q -t ed25519 -N '' -C "ollama-qa local topology" -f "$state/id_ed25519"
  fi
  chmod 0600 "$state/id_ed25519"
}

# Pebble from Debian has no certificate for its own HTTPS endpoint: a small CA signs one for the
# name the machines use, and certbot is told to trust that CA (acme_ca_bundle_file).
ensure_acme_certificate() {
  local dir=$state/acme
  # Kept while it still chains to the CA, names the endpoint and has a day left: a new one would
  # need Pebble restarted and every machine to trust the new CA.
  if [[ -f $dir/cert.pem ]] &&
    openssl verify -CAfile "$dir/ca.pem" "$dir/cert.pem" >/dev/null 2>&1 &&
    openssl x509 -in "$dir/cert.pem" -noout -checkend 86400 >/dev/null &&
    [[ $(openssl x509 -in "$dir/cert.pem" -noout -ext subjectAltName) == *"DNS:$acme_hostname"* ]]; then
    return 0
  fi
  log "generating Pebble's HTTPS CA and certificate for $acme_hostname"
  mkdir -p "$dir"
  chmod 0700 "$dir"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 365 \
    -subj "/CN=ollama-qa local ACME endpoint CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj "/CN=$acme_hostname" -keyout "$dir/key.pem" -out "$dir/cert.csr" 2>/dev/null
  openssl x509 -req -in "$dir/cert.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
    -days 365 -out "$dir/cert.pem" 2>/dev/null \
    -extfile <(printf 'subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$acme_hostname")
  rm -f "$dir/cert.csr" "$dir/ca.srl"
  chmod 0600 "$dir/ca.key" "$dir/key.pem"
}

# The variables are written once per STATE_DIR and reused by local-down.sh.
ensure_tfvars() {
  local vm_image=$1 acme_image=$2
  python3 - "$state/terraform.tfvars.json" "$vm_image" "$acme_image" "$state" "$acme_hostname" <<'EOF'
import json, os, sys
path, vm_image, acme_image, state, acme_hostname = sys.argv[1:]
previous = json.load(open(path)) if os.path.exists(path) else {}
methods = os.environ.get("OLLAMA_QA_LLM_INSTALL_METHODS", "").strip()
llm_machines = previous.get("llm_machines") or (
    [{"install_method": method.strip()} for method in methods.split(",")] if methods else None
)
settings = {
    "name_prefix": previous.get("name_prefix") or os.environ.get("OLLAMA_QA_LOCAL_PREFIX", "ollama-qa-local"),
    "subnet_cidr": previous.get("subnet_cidr") or os.environ.get("OLLAMA_QA_LOCAL_SUBNET", "172.30.57.0/24"),
    "web_count": previous.get("web_count") or int(os.environ.get("OLLAMA_QA_WEB_COUNT", "2")),
    "vm_image": vm_image,
    "acme_image": acme_image,
    "ssh_public_key_file": f"{state}/id_ed25519.pub",
    "ssh_private_key_file": f"{state}/id_ed25519",
    "acme_hostname": acme_hostname,
    "acme_certificate_file": f"{state}/acme/cert.pem",
    "acme_private_key_file": f"{state}/acme/key.pem",
    "acme_ca_file": f"{state}/acme/ca.pem",
}
# Left out, environments/local's own default applies: the default is defined there only.
if llm_machines is not None:
    settings["llm_machines"] = llm_machines
with open(path, "w") as handle:
    json.dump(settings, handle, indent=2)
EOF
}

wait_for_ssh() {
  local address deadline
  deadline=$((SECONDS + ssh_wait_seconds))
  for address in "$@"; do
    until ssh -q -i "$state/id_ed25519" -o BatchMode=yes -o ConnectTimeout=3 \
      -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "debian@$address" true </dev/null; do
      ((SECONDS < deadline)) || die "$address did not answer SSH as debian within ${ssh_wait_seconds} s"
      sleep 2
    done
    log "$address answers SSH"
  done
}

# Pebble makes a new issuing root each time it starts; browsers and tests trust that one.
fetch_acme_root() {
  local address=$1
  for _ in $(seq 1 30); do
    if curl -fsS --cacert "$state/acme/ca.pem" --resolve "$acme_hostname:15000:$address" \
      "https://$acme_hostname:15000/roots/0" -o "$state/acme-root.pem.tmp"; then
      mv "$state/acme-root.pem.tmp" "$state/acme-root.pem"
      return 0
    fi
    sleep 1
  done
  die "Pebble's management endpoint did not give its root certificate"
}

main() {
  local vm_image acme_image
  eval "$("$here/offline/prepare.sh" --env)"
  vm_image=$("$REPO_ROOT/infrastructure/images/build.sh" vm)
  acme_image=$("$REPO_ROOT/infrastructure/images/build.sh" acme)
  ensure_ssh_key
  ensure_acme_certificate
  ensure_tfvars "$vm_image" "$acme_image"

  export TF_DATA_DIR=$state/.terraform
  log "terraform apply of the local topology (state in $state)"
  terraform -chdir="$env_dir" init -upgrade -input=false -no-color -backend-config="path=$state/terraform.tfstate" >"$state/init.log"
  terraform -chdir="$env_dir" apply -input=false -no-color -auto-approve -var-file="$state/terraform.tfvars.json" >"$state/apply.log" ||
    { tail -n 40 "$state/apply.log" >&2; die "terraform apply failed (full log: $state/apply.log)"; }

  # shellcheck disable=SC2046  # one address per word is what wait_for_ssh takes
  wait_for_ssh $(terraform -chdir="$env_dir" output -json addresses |
    python3 -c 'import json, sys; a = json.load(sys.stdin); print(a["lb"], *a["web"], *a["llm"], a["db"])')
  fetch_acme_root "$(terraform -chdir="$env_dir" output -json addresses | python3 -c 'import json, sys; print(json.load(sys.stdin)["acme"])')"
  terraform -chdir="$env_dir" output -raw ansible_inventory >"$state/inventory.yml.tmp"
  mv "$state/inventory.yml.tmp" "$state/inventory.yml"
  log "inventory written to $state/inventory.yml"
}

main
