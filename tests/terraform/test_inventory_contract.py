"""The inventory contract (CONTRACTS.md) that the Ansible roles rely on, for both environments.

Each environment's generated inventory is read back by `ansible-inventory --list`, the same parser
Ansible uses, so a YAML shape Ansible would misread fails here rather than in a deployment.
"""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import LLM_INSTALL_METHODS, run

GROUPS = {"lb": 1, "db": 1}
MIN_HOSTS = {"web": 2, "llm": 1}
HOST_VARS = {"ansible_host", "private_address"}
# Host variables only some hosts carry: each local LLM machine names how Ollama gets onto it,
# where OpenStack leaves that to the ollama role's default.
PER_HOST_VARS = {"ollama_install_method"}
ALL_VARS = {
    "ansible_user",
    "ansible_ssh_private_key_file",
    "ansible_python_interpreter",
    "ollama_qa_environment",
    "public_hostname",
    "acme_directory_url",
    "acme_ca_bundle_file",
    "admin_cidrs",
}


# The ansible-inventory of the environment running the tests, even when it is not activated.
ANSIBLE_INVENTORY = (
    shutil.which("ansible-inventory", path=Path(sys.executable).parent) or "ansible-inventory"
)


def listed(inventory: Path) -> dict:
    """Return `ansible-inventory --list` of an inventory file, as JSON."""
    return json.loads(run(ANSIBLE_INVENTORY, "-i", inventory, "--list"))


def shape(inventory: dict) -> tuple[frozenset[str], frozenset[str]]:
    """Group names and the variable names every host carries: what both environments share."""
    hostvars = inventory["_meta"]["hostvars"]
    groups = frozenset(name for name in inventory["all"]["children"] if name != "ungrouped")
    common = [frozenset(variables) - PER_HOST_VARS for variables in hostvars.values()]
    names = frozenset.intersection(*common)
    union = frozenset.union(*common)
    assert names == union, f"hosts carry different variables: {sorted(union - names)}"
    return groups, names


@pytest.fixture(scope="module", params=["openstack", "local"])
def inventory(request: pytest.FixtureRequest) -> tuple[str, dict]:
    """Each environment's parsed inventory, with the environment's name."""
    if request.param == "openstack":
        path = request.getfixturevalue("openstack_inventory")
    else:
        path = request.getfixturevalue("local_topology") / "inventory.yml"
    return request.param, listed(path)


def test_groups_have_the_contracted_sizes(inventory: tuple[str, dict]) -> None:
    """lb and db hold one host each, web at least two and llm at least one."""
    _, parsed = inventory
    for group, size in GROUPS.items():
        assert len(parsed[group]["hosts"]) == size, group
    for group, size in MIN_HOSTS.items():
        assert len(parsed[group]["hosts"]) >= size, group


def test_every_llm_host_has_a_private_address(inventory: tuple[str, dict]) -> None:
    """The web machines reach each LLM machine's gateway at its private address."""
    _, parsed = inventory
    hostvars = parsed["_meta"]["hostvars"]
    for host in parsed["llm"]["hosts"]:
        assert hostvars[host].get("private_address"), host


def test_every_host_has_the_contracted_variables(inventory: tuple[str, dict]) -> None:
    """Every host carries its own addresses and the all-group variables."""
    _, parsed = inventory
    for host, variables in parsed["_meta"]["hostvars"].items():
        assert set(variables) >= HOST_VARS | ALL_VARS, host


def test_all_group_values_follow_the_contract(inventory: tuple[str, dict]) -> None:
    """The fixed values are those the roles expect, and the environment names itself."""
    environment, parsed = inventory
    for host, variables in parsed["_meta"]["hostvars"].items():
        assert variables["ansible_user"] == "debian", host
        assert variables["ansible_python_interpreter"] == "/usr/bin/python3", host
        assert variables["ollama_qa_environment"] == environment, host
        assert variables["acme_directory_url"].startswith("https://"), host
        assert isinstance(variables["admin_cidrs"], list) and variables["admin_cidrs"], host


def test_local_llm_hosts_carry_their_install_method(local_topology: Path) -> None:
    """llm1..N carry the ollama_install_method asked for each, in order, and no other host does."""
    parsed = listed(local_topology / "inventory.yml")
    hostvars = parsed["_meta"]["hostvars"]
    prefix = json.loads((local_topology / "terraform.tfvars.json").read_text())["name_prefix"]
    expected = {
        f"{prefix}-llm{index}": method for index, method in enumerate(LLM_INSTALL_METHODS, 1)
    }
    carrying = {
        host: variables["ollama_install_method"]
        for host, variables in hostvars.items()
        if "ollama_install_method" in variables
    }
    assert carrying == expected
    assert sorted(parsed["llm"]["hosts"]) == sorted(expected)


def test_private_addresses_are_distinct_in_local(local_topology: Path) -> None:
    """Every local machine has its own address, which the firewall rules of the roles name."""
    hostvars = listed(local_topology / "inventory.yml")["_meta"]["hostvars"]
    addresses = [variables["private_address"] for variables in hostvars.values()]
    assert len(set(addresses)) == len(addresses)


def test_both_environments_have_the_same_shape(
    openstack_inventory: Path, local_topology: Path
) -> None:
    """One set of roles serves both targets only if groups and variable names are identical."""
    assert shape(listed(openstack_inventory)) == shape(listed(local_topology / "inventory.yml"))


def ssh(inventory: dict, host: str, command: str) -> subprocess.CompletedProcess[str]:
    """Run a command on a local machine the way Ansible will log in: as debian with the key."""
    variables = inventory["_meta"]["hostvars"][host]
    return subprocess.run(
        [
            "ssh",
            *variables["ansible_ssh_common_args"].split(),
            "-o",
            "BatchMode=yes",
            "-i",
            variables["ansible_ssh_private_key_file"],
            f"{variables['ansible_user']}@{variables['ansible_host']}",
            command,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_local_machines_run_systemd_and_allow_sudo(local_topology: Path) -> None:
    """Each local "VM" boots systemd and lets debian sudo without a password, like a cloud image."""
    parsed = listed(local_topology / "inventory.yml")
    for host in parsed["_meta"]["hostvars"]:
        result = ssh(parsed, host, "sudo -n systemctl is-system-running --wait")
        state = result.stdout.strip()
        assert state in {"running", "degraded"}, (host, state, result.stderr)


def https_get(address: str, port: int, hostname: str, path: str, cafile: str) -> bytes:
    """GET over TLS from an address, verifying the certificate for a name no DNS here resolves."""
    context = ssl.create_default_context(cafile=cafile)
    request = f"GET {path} HTTP/1.1\r\nHost: {hostname}\r\nConnection: close\r\n\r\n"
    response = b""
    with (
        socket.create_connection((address, port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=hostname) as tls,
    ):
        tls.sendall(request.encode())
        while chunk := tls.recv(65536):
            response += chunk
    return response


def test_local_acme_server_serves_its_directory_with_the_generated_ca(local_topology: Path) -> None:
    """Pebble answers on certbot's URL with a certificate that the inventory's CA verifies."""
    variables = next(iter(listed(local_topology / "inventory.yml")["_meta"]["hostvars"].values()))
    url = urlsplit(variables["acme_directory_url"])
    prefix = json.loads((local_topology / "terraform.tfvars.json").read_text())["name_prefix"]
    template = "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}"
    address = run("docker", "inspect", "-f", template, f"{prefix}-acme").strip()
    cafile = variables["acme_ca_bundle_file"]
    response = https_get(address, url.port, url.hostname, url.path, cafile)
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    assert "newAccount" in json.loads(body)
