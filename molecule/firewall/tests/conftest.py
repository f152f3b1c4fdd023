"""Fixtures shared by the firewall scenario's tests."""

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

ROLE_DEFAULTS = (
    Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[3]))
    / "infrastructure/ansible/roles/firewall/defaults/main.yml"
)
PEER = "peer-firewall"


@pytest.fixture
def role_vars(host) -> dict[str, Any]:
    """The role's defaults overlaid with the inventory, i.e. what the role was run with."""
    return {**yaml.safe_load(ROLE_DEFAULTS.read_text()), **host.ansible.get_variables()}


@pytest.fixture
def peer(host):
    """The second machine on the network, standing in for "another address"."""
    return host.get_host(
        f"ansible://{PEER}", ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"]
    )


@pytest.fixture
def address(host) -> str:
    """The instance's address on the shared network."""
    return host.interface.default().addresses[0]
