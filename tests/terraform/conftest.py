"""Fixtures that drive Terraform for the inventory-contract tests.

Terraform is driven through tftest rather than python-terraform: tftest is maintained (by the
Cloud Foundation Fabric team), speaks Terraform's JSON output, and accepts an explicit environment,
which the offline provider mirror needs; python-terraform has had no release since 2020.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import tftest

REPO_ROOT = Path(__file__).resolve().parents[2]
TERRAFORM_ROOT = REPO_ROOT / "infrastructure" / "terraform"
PREFIX = "tfqa"
# Two LLM machines with different install methods: the smallest topology in which the llm group
# holds several hosts and each carries its own method.
LLM_INSTALL_METHODS = ("binary", "simulator")


def run(*command: str | Path) -> str:
    """Run a command that must succeed and return its standard output."""
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def terraform_environment() -> dict[str, str]:
    """Return os.environ plus prepare.sh's exports, so that the offline mirror is used here too."""
    script = TERRAFORM_ROOT / "offline" / "prepare.sh"
    printed = run("bash", "-c", f'eval "$("{script}" --env)" && env -0')
    return dict(item.split("=", 1) for item in printed.split("\0") if "=" in item)


def state_of_run(events: str, run_name: str) -> dict:
    """Return the state `terraform test -json -verbose` printed after one run block."""
    for line in events.splitlines():
        event = json.loads(line)
        if event.get("type") == "test_state" and event.get("@testrun") == run_name:
            return event["test_state"]
    raise AssertionError(f"terraform test printed no state for run {run_name!r}")


def free_subnet() -> str:
    """Pick a /24 no Docker network uses, so that the test topology never collides with another."""
    inspected = json.loads(
        run("docker", "network", "inspect", *run("docker", "network", "ls", "-q").split())
    )
    used = [
        ipaddress.ip_network(config["Subnet"])
        for network in inspected
        for config in (network.get("IPAM") or {}).get("Config") or []
        if "Subnet" in config and ":" not in config["Subnet"]
    ]
    for third in range(200, 250):
        candidate = ipaddress.ip_network(f"172.31.{third}.0/24")
        if not any(candidate.overlaps(network) for network in used):
            return str(candidate)
    raise RuntimeError("no free 172.31.x.0/24 for the test topology")


@pytest.fixture(scope="session")
def tf_env() -> dict[str, str]:
    """The environment every Terraform call of this session runs in."""
    return terraform_environment()


@pytest.fixture(scope="session")
def openstack_state(tf_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The OpenStack environment's state after the inventory_contract run of its own mocked test."""
    data_dir = tmp_path_factory.mktemp("openstack-data")
    env = {**tf_env, "TF_DATA_DIR": str(data_dir)}
    tf = tftest.TerraformTest(str(TERRAFORM_ROOT / "environments" / "openstack"), env=env)
    tf.execute_command("init", "-upgrade", "-backend=false", "-input=false", "-no-color")
    events = tf.execute_command("test", "-json", "-verbose", "-filter=tests/openstack.tftest.hcl")
    return state_of_run(events.out, "inventory_contract")


@pytest.fixture(scope="session")
def openstack_inventory(tmp_path_factory: pytest.TempPathFactory, openstack_state: dict) -> Path:
    """The OpenStack inventory, as that mocked run outputs it."""
    path = tmp_path_factory.mktemp("openstack") / "inventory.yml"
    path.write_text(openstack_state["outputs"]["ansible_inventory"]["value"])
    return path


@pytest.fixture(scope="session")
def local_topology(
    tmp_path_factory: pytest.TempPathFactory, tf_env: dict[str, str]
) -> Iterator[Path]:
    """A real, minimal local topology (lb, 2 web, 2 llm, db, acme), destroyed after this run."""
    state = tmp_path_factory.mktemp("local-state")
    prefix = f"{PREFIX}-{uuid.uuid4().hex[:6]}"
    env = {
        **tf_env,
        "OLLAMA_QA_LOCAL_PREFIX": prefix,
        "OLLAMA_QA_LOCAL_SUBNET": free_subnet(),
        "OLLAMA_QA_WEB_COUNT": "2",
        "OLLAMA_QA_LLM_INSTALL_METHODS": ",".join(LLM_INSTALL_METHODS),
    }
    # The lifecycle's own command for the machines alone, on a state folder of this run.
    machines = [sys.executable, "-m", "lifecycle", "machines"]
    env["OLLAMA_QA_STATE"] = str(state)
    try:
        subprocess.run([*machines, "up"], check=True, env=env, cwd=REPO_ROOT, timeout=1200)
        yield state
    finally:
        subprocess.run([*machines, "down"], check=True, env=env, cwd=REPO_ROOT, timeout=600)
        assert_nothing_left(prefix)


def assert_nothing_left(prefix: str) -> None:
    """Ask Docker itself, not the script under test, whether teardown removed everything."""
    containers = run("docker", "ps", "-aq", "--filter", f"name=^{prefix}-").split()
    networks = run("docker", "network", "ls", "-q", "--filter", f"name=^{prefix}-").split()
    assert not containers, f"teardown left containers {containers}"
    assert not networks, f"teardown left networks {networks}"
