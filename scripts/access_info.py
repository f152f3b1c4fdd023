"""Print how a person on this machine opens the local topology's page (used by show-access.sh)."""

import json
import sys
from pathlib import Path

import yaml


def main() -> None:
    state_dir, mode = Path(sys.argv[1]), sys.argv[2]
    inventory = json.load(sys.stdin)
    hostvars = inventory["_meta"]["hostvars"]
    lb = hostvars[inventory["lb"]["hosts"][0]]
    hostname = lb["public_hostname"]
    address = lb["private_address"]
    secrets = yaml.safe_load((state_dir / "secrets.yml").read_text())
    password = (
        secrets["vault_webapp_admin_password"]
        if mode == "tty"
        else f"(vault_webapp_admin_password in {state_dir / 'secrets.yml'})"
    )
    print(
        f"""
The page is served at https://{hostname}/ by the load balancer at {address}.
Its certificate comes from the local ACME server (Pebble); trust {state_dir / "acme-root.pem"}.
Open it from this machine with:
  chromium --host-resolver-rules="MAP {hostname} {address}" https://{hostname}/
(import the CA in chrome://settings/certificates, or add "{address} {hostname}" to /etc/hosts).
Log in as: admin / {password}
Tear it down with: make down
"""
    )


if __name__ == "__main__":
    main()
