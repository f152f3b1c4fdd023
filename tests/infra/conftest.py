"""testinfra checks of a deployed topology, local or cloud.

The deployment is named by its Ansible inventory (OLLAMA_QA_INVENTORY), the same file the
playbook ran with. Expected values come from the deployment's own sources: the inventory's
variables first, then the playbook's group_vars and the roles' defaults, never a second copy.
"""

import functools
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ANSIBLE_DIR = Path(__file__).resolve().parents[2] / "infrastructure" / "ansible"


def inventory_path() -> str:
    path = os.environ.get("OLLAMA_QA_INVENTORY", "")
    if not path or not Path(path).is_file():
        raise pytest.UsageError(
            "OLLAMA_QA_INVENTORY must name the inventory of the deployment to check "
            f"(got {path!r}); `make up` writes the local one to "
            "~/.cache/ollama-qa/local-topology/inventory.yml"
        )
    return path


def pytest_configure(config: pytest.Config) -> None:
    inventory_path()
    # Checks read root-only files (keys, secrets); Ansible's user escalates as it does in a play.
    os.environ.setdefault("ANSIBLE_BECOME", "true")
    os.environ.setdefault("ANSIBLE_CONFIG", str(ANSIBLE_DIR / "ansible.cfg"))


@functools.cache
def inventory() -> dict[str, Any]:
    """The inventory as Ansible sees it, with every host's variables."""
    out = subprocess.run(
        ["ansible-inventory", "-i", inventory_path(), "--list"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)


def group_hosts(group: str) -> list[str]:
    data = inventory()
    return list(data.get(group, {}).get("hosts", []))


def hosts(*groups: str) -> list[str]:
    """testinfra host specs for the hosts of these groups (for module-level testinfra_hosts)."""
    spec = f"?ansible_inventory={inventory_path()}"
    names = [name for group in groups for name in group_hosts(group)]
    return [f"ansible://{name}{spec}" for name in names]


@functools.cache
def _yaml(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text()) or {}


def role_default(role: str, name: str) -> Any:
    return _yaml(ANSIBLE_DIR / "roles" / role / "defaults" / "main.yml")[name]


def role_internal(role: str, name: str) -> Any:
    """A role's fixed value from its vars/main.yml (paths inside the machine, names)."""
    return _yaml(ANSIBLE_DIR / "roles" / role / "vars" / "main.yml")[name]


def host_var(hostname: str, name: str, role: str | None = None) -> Any:
    """A variable as the play saw it: inventory first, then literal group_vars, then defaults."""
    hostvars = inventory()["_meta"]["hostvars"][hostname]
    if name in hostvars:
        return hostvars[name]
    for group in ("all", *(g for g in ("lb", "web", "llm", "db") if hostname in group_hosts(g))):
        group_file = ANSIBLE_DIR / "group_vars" / f"{group}.yml"
        value = _yaml(group_file).get(name) if group_file.is_file() else None
        reference = re.fullmatch(r"\{\{\s*(\w+)\s*\}\}", str(value))
        if reference:
            return host_var(hostname, reference.group(1), role)
        if value is not None and "{{" not in str(value):
            return value
    if role is None:
        raise KeyError(name)
    return role_default(role, name)


def address(hostname: str) -> str:
    """The address other machines reach this one on."""
    return inventory()["_meta"]["hostvars"][hostname]["private_address"]


@pytest.fixture
def hostname(host) -> str:
    return host.backend.get_hostname()
