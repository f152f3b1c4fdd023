"""Failures, reloads and floods on a running topology (OLLAMA_QA_INVENTORY, or the local one).

Each test that stops something restores it in a ``finally`` and checks it is back, so a failing
test leaves the topology as it found it. Streams are driven with the benchmark's own client
(bench/streams.py), which timestamps every read; remote state is read over SSH as Ansible does.
"""

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# bench/ sits at the repository root, outside the installed src/ packages; the topology helpers
# (inventory, SSH as Ansible does it, HTTPS by name) and the stream client are defined there once.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.topology import SiteClient, Topology


@pytest.fixture(scope="session")
def site(topology: Topology) -> Iterator[SiteClient]:
    """An HTTPS client logged in as the deployment's initial user."""
    with topology.client() as client:
        client.login()
        yield client
