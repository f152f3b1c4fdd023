"""Failures, reloads and floods on a running topology (OLLAMA_QA_INVENTORY, or the local one).

Each test that stops something restores it in a ``finally`` and checks it is back, so a failing
test leaves the topology as it found it. Streams are driven with the benchmark's own client
(deploykit/probes/stream_client.py), which timestamps every read; remote state is read over SSH
as Ansible does.
"""

import os
import shlex
from collections.abc import Iterator

import pytest

from deploykit.client import SiteClient
from deploykit.state import local_inventory
from deploykit.topology import Simulator, Topology, TopologyError


@pytest.fixture(scope="session")
def site(topology: Topology) -> Iterator[SiteClient]:
    """An HTTPS client logged in as a user of this run's own: every question asked is kept as a
    conversation, and removing the user at the end removes them, not the deployment's history."""
    with topology.temporary_user("resilience") as (name, password), topology.client() as client:
        client.login(name, password)
        yield client


@pytest.fixture(scope="session")
def sim(topology: Topology) -> Simulator:
    """The deployment's Ollama simulator: these tests steer it with fault directives and count
    its tokens, so they aim every question at its model and refuse to run where there is none."""
    try:
        return topology.require_simulator()
    except TopologyError as error:
        raise pytest.UsageError(str(error)) from None


@pytest.fixture(scope="session")
def converge(topology: Topology) -> list[str]:
    """The command that runs site.yml on the deployment under test; arguments go after it.

    The local topology has the lifecycle's converge (run from the repository root, as tox and
    make do); for another inventory, OLLAMA_QA_CONVERGE is the operator's own command
    (inventory, vars and vault included).
    """
    command = os.environ.get("OLLAMA_QA_CONVERGE")
    if command:
        return shlex.split(command)
    if topology.inventory_file.resolve() == local_inventory().resolve():
        return ["python3", "-m", "lifecycle", "converge"]
    pytest.fail(
        f"set OLLAMA_QA_CONVERGE to the command that runs site.yml on {topology.inventory_file} "
        "(for example: ansible-playbook -i inventory.yml -e @vars.yml site.yml)"
    )
