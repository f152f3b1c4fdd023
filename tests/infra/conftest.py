"""testinfra checks of a deployed topology, local or cloud.

The deployment is named by its Ansible inventory (OLLAMA_QA_INVENTORY, else the local
topology's), the same file the playbook ran with. Expected values are the roles' variables as
Ansible resolves them with that inventory and the site's group_vars (deploykit.variables),
never a second copy.
"""

import os
import shlex
from typing import Any

import pytest

from deploykit.inventory import Inventory, inventory_from_env, load
from deploykit.ssh import probe_argv
from deploykit.state import ANSIBLE_DIR
from deploykit.variables import resolve


def pytest_configure(config: pytest.Config) -> None:
    try:
        inventory_from_env()
    except FileNotFoundError as missing:
        raise pytest.UsageError(str(missing)) from None
    # Checks read root-only files (keys, secrets); Ansible's user escalates as it does in a play.
    os.environ.setdefault("ANSIBLE_BECOME", "true")
    os.environ.setdefault("ANSIBLE_CONFIG", str(ANSIBLE_DIR / "ansible.cfg"))


def inventory() -> Inventory:
    """The deployment's inventory as Ansible sees it."""
    return load(inventory_from_env())


def hosts(*groups: str) -> list[str]:
    """testinfra host specs for the hosts of these groups (for module-level testinfra_hosts)."""
    return [machine(name) for name in inventory().hosts(*groups)]


def machine(name: str) -> str:
    """The testinfra host spec of one machine, reached as the playbook reaches it."""
    return f"ansible://{name}?ansible_inventory={inventory().path}"


def var(hostname: str, name: str) -> Any:
    """A variable as the play saw it on this machine, resolved by Ansible."""
    return resolve(inventory().path).get(hostname, name)


def probe(host, name: str, *args: str) -> str:
    """The output of one of deploykit's probes run on the machine."""
    return host.check_output(shlex.join(probe_argv(name, *args)))


def running_and_enabled(host, unit: str) -> tuple[bool, bool]:
    """Whether a systemd unit runs now, and whether it starts at boot."""
    service = host.service(unit)
    return service.is_running, service.is_enabled


def address(hostname: str) -> str:
    """The address other machines reach this one on."""
    return var(hostname, "private_address")


@pytest.fixture
def hostname(host) -> str:
    return host.backend.get_hostname()
