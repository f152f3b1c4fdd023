#!/usr/bin/env bash
# The static and plan-level checks of every Terraform root and module, with the real provider
# schemas and no cloud: fmt, init + validate, tflint, and `terraform test` (mock providers).
# `tox -e terraform` runs this before the pytest inventory-contract tests.
set -euo pipefail
shopt -s inherit_errexit

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The cache folder of the lifecycle (deploykit.state.cache_dir), outside the clone.
CACHE_DIR=${OLLAMA_QA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ollama-qa}
log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

tflint_version=v0.64.0

# tflint is a Go module too, but a cold build takes over 10 minutes on 2 cores: it is used when
# on PATH or cached, and built through the module proxy (cached per version) only when
# OLLAMA_QA_TFLINT=1 asks for it.
ensure_tflint() {
  local dir=$CACHE_DIR/terraform/tflint/$tflint_version
  if ! command -v tflint >/dev/null && [[ ! -x $dir/tflint && ${OLLAMA_QA_TFLINT:-0} == 1 ]]; then
    log "building tflint $tflint_version (cached in $dir)"
    GOBIN=$dir PATH=$PATH:/usr/local/go/bin go install "github.com/terraform-linters/tflint@$tflint_version"
  fi
  if [[ -x $dir/tflint ]]; then
    PATH=$dir:$PATH
  fi
}

eval "$("$here/offline/prepare.sh" --env)"
ensure_tflint
# Working data (.terraform) stays outside the clone, one folder per configuration.
data_root=$CACHE_DIR/terraform/data
mkdir -p "$data_root"
cd "$here"

# The pins in versions.tf and the versions the offline mirror builds are two copies of one fact.
check_pins() {
  local address version source failed=0
  while IFS=$'\t' read -r address version _; do
    [[ -z $address || $address == \#* ]] && continue
    source=${address#registry.terraform.io/}
    while IFS= read -r file; do
      if ! grep -A1 -F "source  = \"$source\"" "$file" | grep -qF "version = \"$version\""; then
        printf 'error: %s pins %s to another version than offline/providers.tsv (%s)\n' "$file" "$source" "$version" >&2
        failed=1
      fi
    done < <(grep -rlF --include=versions.tf "source  = \"$source\"" .)
  done <offline/providers.tsv
  return "$failed"
}

configurations() {
  find modules environments -mindepth 1 -maxdepth 1 -type d | sort
}

log "checking provider pins against offline/providers.tsv"
check_pins

log "terraform fmt -check"
terraform fmt -check -recursive -diff .

for dir in $(configurations); do
  export TF_DATA_DIR=$data_root/${dir//\//-}
  log "$dir: init and validate"
  (cd "$dir" && terraform init -upgrade -backend=false -input=false -no-color >"$TF_DATA_DIR.init.log" 2>&1) ||
    { cat "$TF_DATA_DIR.init.log" >&2; die "terraform init failed in $dir"; }
  (cd "$dir" && terraform validate -no-color)
  if command -v tflint >/dev/null; then
    log "$dir: tflint"
    (cd "$dir" && tflint --no-color --config "$here/.tflint.hcl")
  fi
  if [[ -d $dir/tests ]]; then
    log "$dir: terraform test"
    (cd "$dir" && terraform test -no-color)
  fi
done
command -v tflint >/dev/null || log "tflint skipped: not installed (OLLAMA_QA_TFLINT=1 builds it)"
