"""Fixtures shared by the firewall scenario's tests."""

import os
from typing import Any

import pytest

from deploykit.variables import scenario_host_vars

PEER = "peer-firewall"


@pytest.fixture
def role_vars(host) -> dict[str, Any]:
    """The inventory and the role's variables, i.e. what the role was run with."""
    return scenario_host_vars(host)


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
