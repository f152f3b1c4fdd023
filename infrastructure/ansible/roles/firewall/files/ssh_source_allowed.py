"""Exit 1 when the SSH client Ansible connects from lies outside the given networks.

Run on the target before the firewall is loaded, so that a wrong firewall_ssh_allowed_cidrs
fails the play instead of locking the operator out. Connections that are not SSH pass.
"""

import ipaddress
import os
import sys


def main(networks: list[str]) -> int:
    connection = os.environ.get("SSH_CONNECTION", "").split()
    if not connection:
        print("not connected over SSH; nothing to guard")
        return 0
    source = ipaddress.ip_address(connection[0])
    if any(source in ipaddress.ip_network(net, strict=False) for net in networks):
        print(f"SSH source {source} is allowed")
        return 0
    print(
        f"SSH source {source} is outside firewall_ssh_allowed_cidrs {networks}; not locking it out"
    )
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
