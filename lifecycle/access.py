"""How a person on this machine opens the local topology's page: URL, address, the ACME CA to
trust and the first user (the password only on a terminal; in logs, where to read it)."""

import json
import os
from pathlib import Path

from deploykit import inventory
from deploykit.state import REPO_ROOT
from lifecycle import secrets
from lifecycle.host import output, tool, tools_venv


def load_balancer(state: Path) -> dict:
    """The load balancer's variables, as Ansible reads the inventory Terraform wrote."""
    # The tools virtualenv's Ansible, for a python that has none of its own.
    path = os.environ.get("PATH", "")
    os.environ["PATH"] = os.pathsep.join([str(tools_venv() / "bin"), path])
    try:
        listing = inventory.load(state / "inventory.yml")
    finally:
        os.environ["PATH"] = path
    return listing.hostvars(listing.hosts("lb")[0])


def admin_username(state: Path) -> str:
    """The first user's name, as Ansible resolves it for the web machines (the tools virtualenv's
    python has Ansible and PyYAML, which this one may not)."""
    web = inventory.load(state / "inventory.yml").hosts("web")[0]
    argv = [tool("python"), "-m", "deploykit.variables", state / "inventory.yml", web]
    return json.loads(output([*argv, "webapp_admin_username"], cwd=REPO_ROOT))


def message(state: Path, hostname: str, address: str, username: str, password: str | None) -> str:
    secrets_file = state / "secrets.yml"
    login = password or f"(vault_webapp_admin_password in {secrets_file})"
    return f"""
The page is served at https://{hostname}/ by the load balancer at {address}.
Its certificate comes from the local ACME server (Pebble); trust {state / "acme-root.pem"}.
Open it from this machine with:
  chromium --host-resolver-rules="MAP {hostname} {address}" https://{hostname}/
(import the CA in chrome://settings/certificates, or add "{address} {hostname}" to /etc/hosts).
Log in as: {username} / {login}
Tear it down with: make down
"""


def show(state: Path, *, on_terminal: bool) -> None:
    lb = load_balancer(state)
    password = None
    if on_terminal:
        password = secrets.read(state / "secrets.yml")["vault_webapp_admin_password"]
    username = admin_username(state)
    print(message(state, lb["public_hostname"], lb["private_address"], username, password))
