#!/usr/bin/env bash
# Prepares a fresh Debian 12 machine to run the local topology and the test suite:
# system packages, a running Docker engine, and the tox runner in a cached virtualenv.
# Idempotent: every step checks before it acts, so it is cheap to run before each job.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

# postgresql: its server binaries start throwaway databases for the unit tests (pytest-postgresql).
apt_packages=(
  docker.io debootstrap chromium libnss3-tools haproxy apache2-utils openssh-client
  testssl.sh sqlite3 iproute2 curl ca-certificates python3-venv postgresql
)

ensure_debian_packages "${apt_packages[@]}"

# There is no systemd on a CI host: start dockerd ourselves when nothing answers on the socket.
if ! docker info >/dev/null 2>&1; then
  if command -v systemctl >/dev/null 2>&1 && systemctl is-system-running >/dev/null 2>&1; then
    sudo_if_needed systemctl start docker
  else
    log "starting dockerd in the background (log: $CACHE_DIR/dockerd.log)"
    mkdir -p "$CACHE_DIR"
    sudo_if_needed nohup dockerd >"$CACHE_DIR/dockerd.log" 2>&1 &
  fi
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || die "the Docker engine did not start; see $CACHE_DIR/dockerd.log"
fi

# tox for the checks, Ansible for the deployment; keyed on pyproject.toml, which pins both.
tools_stamp="$TOOLS_VENV/.inputs-$(inputs_hash pyproject.toml)"
if [[ ! -e $tools_stamp ]]; then
  log "creating the tools virtualenv in $TOOLS_VENV"
  rm -rf "$TOOLS_VENV"
  python3 -m venv "$TOOLS_VENV"
  "$TOOLS_VENV/bin/pip" install -q --upgrade "pip>=25.1"
  (cd "$REPO_ROOT" && "$TOOLS_VENV/bin/pip" install -q "tox>=4.22" --group ansible)
  touch "$tools_stamp"
fi

"$REPO_ROOT/infrastructure/terraform/offline/prepare.sh"
