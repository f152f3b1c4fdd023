#!/usr/bin/env bash
# Makes Terraform usable where its registry cannot be reached: ensures a terraform binary and a
# filesystem mirror of the providers this project pins, both built from source through the Go
# module proxy and cached outside the clone, keyed on their versions. Idempotent: a second run
# only checks the cache. Users who reach the registry keep Terraform's normal path.
#
#   prepare.sh          ensure everything; progress goes to stderr
#   prepare.sh --env    the same, then print the shell exports that select it:
#                       eval "$(infrastructure/terraform/offline/prepare.sh --env)"
#
# OLLAMA_QA_TF_OFFLINE=auto (default: mirror only when the registry does not answer), 1 (always
# the mirror) or 0 (never: plain registry installs, nothing is built).
set -euo pipefail
shopt -s inherit_errexit

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The cache folder of the lifecycle (deploykit.state.cache_dir), outside the clone.
CACHE_DIR=${OLLAMA_QA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ollama-qa}
log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

terraform_version=1.11.4
# The oldest release the configurations and their tests are checked with (mock providers and
# the test JSON output that tests/terraform reads changed across earlier releases).
terraform_minimum=1.11.0
registry_probe=https://registry.terraform.io/.well-known/terraform.json
tf_cache=$CACHE_DIR/terraform
mirror_dir=$tf_cache/mirror
cli_config=$tf_cache/terraformrc
goos_goarch=linux_amd64

export PATH=$PATH:/usr/local/go/bin
export GOFLAGS=${GOFLAGS:--buildvcs=false}

# Whether providers must come from the mirror: the registry is the normal path when it answers.
want_offline() {
  case "${OLLAMA_QA_TF_OFFLINE:-auto}" in
    1 | true) return 0 ;;
    0 | false) return 1 ;;
    auto) ! curl -fsS -m 5 -o /dev/null "$registry_probe" 2>/dev/null ;;
    *) die "OLLAMA_QA_TF_OFFLINE must be auto, 1 or 0" ;;
  esac
}

require_go() {
  command -v go >/dev/null || die "Go is needed to build Terraform pieces offline (apt-get install golang, or /usr/local/go)"
}

# Prints the directory of a module downloaded through the proxy.
module_dir() {
  go mod download -json "$1" | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])'
}

# Terraform's go.mod replaces its nested modules with ./internal/... folders, which module zips
# leave out, so `go install terraform@v` fails; build in a writable copy with those folders
# filled from the proxy at the release's own commit.
build_terraform() {
  local out=$1 src work commit nested rel pseudo
  require_go
  src=$(module_dir "github.com/hashicorp/terraform@v$terraform_version")
  commit=$(curl -fsS "$(go env GOPROXY | cut -d, -f1)/github.com/hashicorp/terraform/@v/v$terraform_version.info" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["Origin"]["Hash"][:12])')
  work=$(mktemp -d)
  cp -r "$src/." "$work/"
  chmod -R u+w "$work"
  while IFS= read -r rel; do
    nested=github.com/hashicorp/terraform/$rel
    pseudo=$(curl -fsS "$(go env GOPROXY | cut -d, -f1)/$nested/@v/$commit.info" |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["Version"])')
    mkdir -p "$work/$rel"
    cp -r "$(module_dir "$nested@$pseudo")/." "$work/$rel/"
  done < <(sed -n 's|^replace github.com/hashicorp/terraform/\([^ ]*\) => \./.*|\1|p' "$work/go.mod")
  chmod -R u+w "$work"
  # Newer Go toolchains refuse godebug settings they no longer know (1.11's tlskyber); they only
  # tune defaults, so the build drops them rather than pinning an old toolchain.
  sed -i '/^godebug /d' "$work/go.mod"
  (cd "$work" && go build -trimpath -ldflags "-s -w -X github.com/hashicorp/terraform/version.dev=no" -o "$out.tmp" .)
  mv "$out.tmp" "$out"
  rm -rf "$work"
}

# Whether the terraform on PATH is recent enough for the checks.
recent_terraform_on_path() {
  local found
  command -v terraform >/dev/null || return 1
  found=$(terraform version -json | python3 -c 'import json, sys; print(json.load(sys.stdin)["terraform_version"])')
  [[ $(printf '%s\n%s\n' "$terraform_minimum" "$found" | sort -V | head -n1) == "$terraform_minimum" ]]
}

# Prints the directory holding a terraform binary, building one when PATH has none recent enough.
ensure_terraform() {
  local dir=$tf_cache/bin/$terraform_version
  if recent_terraform_on_path; then
    dirname "$(command -v terraform)"
  elif [[ -x $dir/terraform ]]; then
    echo "$dir"
  else
    log "building terraform $terraform_version from source (several minutes, cached in $dir)"
    mkdir -p "$dir"
    build_terraform "$dir/terraform"
    echo "$dir"
  fi
}

# Builds one provider into the unpacked mirror layout Terraform expects:
# HOST/NAMESPACE/TYPE/VERSION/OS_ARCH/terraform-provider-TYPE_vVERSION
ensure_provider() {
  local address=$1 version=$2 declared=$3 fetched=$4
  local type=${address##*/} dest wrapper started
  dest=$mirror_dir/$address/$version/$goos_goarch
  [[ -x $dest/terraform-provider-${type}_v$version ]] && return 0
  require_go
  log "building provider $address $version from ${fetched} (cached in $dest)"
  started=$(date +%s)
  mkdir -p "$dest"
  wrapper=$(mktemp -d)
  # A wrapper module lets the declared module path differ from the path the proxy serves.
  cat >"$wrapper/go.mod" <<EOF
module ollama-qa.invalid/provider-build

go 1.24

require $declared ${fetched#*@}

replace $declared => ${fetched%@*} ${fetched#*@}
EOF
  (cd "$wrapper" && GOFLAGS="$GOFLAGS -mod=mod" go build -trimpath \
    -ldflags "-s -w -X main.version=$version" \
    -o "$dest/terraform-provider-${type}_v$version.tmp" "$declared")
  mv "$dest/terraform-provider-${type}_v$version.tmp" "$dest/terraform-provider-${type}_v$version"
  rm -rf "$wrapper"
  log "built $address $version in $(($(date +%s) - started)) s"
}

# Writes the CLI config that takes the pinned providers from the mirror and nothing else.
write_cli_config() {
  local addresses=$1
  mkdir -p "$tf_cache"
  cat >"$cli_config.tmp" <<EOF
# Written by infrastructure/terraform/offline/prepare.sh: the pinned providers come from the
# filesystem mirror built from source; every other provider would come from the registry.
provider_installation {
  filesystem_mirror {
    path    = "$mirror_dir"
    include = [$addresses]
  }
  direct {
    exclude = [$addresses]
  }
}
EOF
  mv "$cli_config.tmp" "$cli_config"
}

main() {
  local print_env=false tf_dir addresses="" address version declared fetched
  [[ ${1:-} == --env ]] && print_env=true
  tf_dir=$(ensure_terraform)
  if want_offline; then
    log "Terraform registry not used: providers come from the mirror in $mirror_dir"
    while IFS=$'\t' read -r address version declared fetched; do
      [[ -z $address || $address == \#* ]] && continue
      ensure_provider "$address" "$version" "$declared" "$fetched"
      addresses+="${addresses:+, }\"$address\""
    done <"$here/providers.tsv"
    write_cli_config "$addresses"
    if $print_env; then
      printf 'export TF_CLI_CONFIG_FILE=%q\n' "$cli_config"
    fi
  fi
  if $print_env; then
    # $PATH stays literal: it expands in the shell that evaluates this line.
    # shellcheck disable=SC2016
    printf 'export PATH=%q:"$PATH"\n' "$tf_dir"
  fi
}

main "$@"
