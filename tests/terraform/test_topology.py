"""infrastructure/topology.yml, the roles' own defaults and Terraform say the same thing.

The site binds the roles' variables to topology.yml and Terraform reads it, so a changed port
reaches both. Each role also keeps the value as its default, to run on its own (Molecule): this is
where a default left behind, or a security group rule that no longer follows the file, fails.
Role variables come from deploykit.variables, as Ansible resolves them; this is the one test that
reads topology.yml itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import REPO_ROOT

from deploykit import variables
from deploykit.state import ANSIBLE_DIR

TOPOLOGY = yaml.safe_load((REPO_ROOT / "infrastructure" / "topology.yml").read_text())["topology"]

# Each role variable that carries a port of topology.yml, and the port's name there.
ROLE_PORTS = {
    "firewall_ssh_port": "ssh",
    "haproxy_http_port": "http",
    "haproxy_https_port": "https",
    "haproxy_backend_port": "web_app",
    "webapp_port": "web_app",
    "llm_gateway_port": "llm_gateway",
    "ollama_port": "ollama",
    "postgresql_port": "postgresql",
    "webapp_database_port": "postgresql",
}

# What each security group admits, by port name: the world or the group named, and SSH from the
# operators' networks on every group. Ollama's port is in no rule.
SECURITY_GROUP_PORTS = {
    "lb": {"ssh", "http", "https"},
    "web": {"ssh", "web_app"},
    "llm": {"ssh", "llm_gateway"},
    "db": {"ssh", "postgresql"},
}


@pytest.fixture(scope="module", params=["role defaults", "site"])
def resolved(request: pytest.FixtureRequest, openstack_inventory: Path) -> variables.Variables:
    """The roles' variables alone (no group_vars, as in Molecule), or as the site binds them."""
    playbook_dir = None if request.param == "role defaults" else ANSIBLE_DIR
    return variables.resolve(openstack_inventory, playbook_dir)


@pytest.mark.parametrize(("name", "port"), ROLE_PORTS.items())
def test_role_ports_are_those_of_the_topology(
    resolved: variables.Variables, name: str, port: str
) -> None:
    """Every role's port variable holds the topology's port, by default and on the site."""
    # Ansible's templating turns the site's bound numbers into strings.
    assert int(resolved.any(name)) == TOPOLOGY["ports"][port]


def test_the_load_balancer_balances_a_group_of_the_topology(
    resolved: variables.Variables,
) -> None:
    """HAProxy's backends are the hosts of one of the topology's groups."""
    assert resolved.any("haproxy_backend_group") in TOPOLOGY["groups"]


def test_the_site_plays_target_the_topology_groups() -> None:
    """Each play of site.yml runs on every machine or on one group of the topology."""
    plays = yaml.safe_load((ANSIBLE_DIR / "site.yml").read_text())
    assert {play["hosts"] for play in plays} <= {"all", *TOPOLOGY["groups"]}


def test_the_inventory_groups_are_those_of_the_topology(openstack_state: dict) -> None:
    """Terraform writes exactly the topology's groups into the inventory."""
    inventory = yaml.safe_load(openstack_state["outputs"]["ansible_inventory"]["value"])
    assert sorted(inventory["all"]["children"]) == sorted(TOPOLOGY["groups"])


def security_group_rules(state: dict) -> set[tuple[str, int, int]]:
    """Every security group rule of the state as (group name, first port, last port)."""
    resources = [
        resource
        for module in state["root_module"].get("child_modules", [])
        for resource in module.get("resources", [])
    ]
    groups = {
        resource["values"]["id"]: resource["index"]
        for resource in resources
        if resource["type"] == "openstack_networking_secgroup_v2"
    }
    return {
        (
            groups[resource["values"]["security_group_id"]],
            resource["values"]["port_range_min"],
            resource["values"]["port_range_max"],
        )
        for resource in resources
        if resource["type"] == "openstack_networking_secgroup_rule_v2"
    }


def test_the_security_groups_admit_the_topology_ports(openstack_state: dict) -> None:
    """Each security group admits exactly its ports of the topology, and never Ollama's."""
    ports = TOPOLOGY["ports"]
    expected = {
        (group, ports[name], ports[name])
        for group, names in SECURITY_GROUP_PORTS.items()
        for name in names
    }
    assert security_group_rules(openstack_state) == expected
