"""The deployment's Ansible inventory, read by Ansible itself: one ``ansible-inventory`` per file.

Whatever the inventory is (Terraform's YAML, a Molecule scenario's directory, a plugin), the
groups and host variables here are the ones a playbook run with it sees.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploykit.state import local_inventory


def ansible_command(name: str) -> str:
    """An Ansible program of the running environment (tox's), else the one on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is neither beside {sys.executable} nor on PATH")
    return found


def inventory_from_env() -> Path:
    """$OLLAMA_QA_INVENTORY, else the local topology's inventory; it must exist."""
    named = os.environ.get("OLLAMA_QA_INVENTORY")
    path = Path(named).expanduser() if named else local_inventory()
    if not path.exists():
        source = "OLLAMA_QA_INVENTORY names" if named else "the local topology's inventory is"
        raise FileNotFoundError(
            f"{source} {path}, which does not exist: run `make up` for the local topology, or "
            "set OLLAMA_QA_INVENTORY to the inventory of the deployment to check"
        )
    return path


@dataclass(frozen=True)
class Inventory:
    """Groups and host variables of one inventory, as ``ansible-inventory --list`` gives them."""

    path: Path
    groups: Mapping[str, list[str]]
    """Every group's hosts, those of its child groups included, in inventory order."""
    _hostvars: Mapping[str, dict[str, Any]]

    def hosts(self, *groups: str) -> list[str]:
        """The hosts of these groups, in order, each once; a group nobody defined has none."""
        names = (name for group in groups for name in self.groups.get(group, []))
        return list(dict.fromkeys(names))

    def hostvars(self, name: str) -> dict[str, Any]:
        """A host's inventory variables (not templated: role defaults are deploykit.variables')."""
        return self._hostvars[name]


def _members(listing: dict[str, Any], group: str) -> list[str]:
    entry = listing.get(group, {})
    hosts = list(entry.get("hosts", []))
    for child in entry.get("children", []):
        hosts += _members(listing, child)
    return list(dict.fromkeys(hosts))


@functools.cache
def load(path: Path) -> Inventory:
    """The inventory at ``path``, read once per process."""
    listed = subprocess.run(  # noqa: S603 (Ansible's own program, fixed arguments)
        [ansible_command("ansible-inventory"), "-i", str(path), "--list"],
        check=True,
        capture_output=True,
        text=True,
    )
    listing = json.loads(listed.stdout)
    groups = {name: _members(listing, name) for name in listing if name != "_meta"}
    return Inventory(path, groups, listing.get("_meta", {}).get("hostvars", {}))
