"""Shared by tests that run real servers: start one as a subprocess on a free loopback port.

The server picks the port itself (``--port 0``) and logs its address, so there is no race for a
port; each fixture that starts a process ends exactly that process, by its handle. The suites
against a deployment (resilience, security) share the ``topology`` fixture at the end.
"""

import dataclasses
import os
import sys
from collections.abc import Iterator, Mapping, Sequence

import pytest

from deploykit import process
from deploykit.process import Served


@pytest.fixture(scope="session")
def launch(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """A factory for servers that all end when the session does (if their fixture did not)."""
    started: list[Served] = []

    def run(name: str, command: Sequence[str], env: Mapping[str, str] | None = None) -> Served:
        log = tmp_path_factory.mktemp(name) / f"{name}.log"
        served = process.launch([sys.executable, "-m", *command], env or {}, log)
        started.append(served)
        return served

    yield run
    for served in started:
        served.stop()


# The simulator's speed in tests that run it; assertions about timing are derived from it.
TOKENS_PER_SECOND = 20


@pytest.fixture(scope="session")
def tokens_per_second() -> int:
    return TOKENS_PER_SECOND


@pytest.fixture(scope="session")
def simulator(launch) -> Iterator[Served]:
    """The Ollama simulator, quick to answer and paced at TOKENS_PER_SECOND."""
    served = launch(
        "sim",
        ["ollama_sim"],
        {
            "OLLAMA_SIM_TOKENS_PER_SECOND": str(TOKENS_PER_SECOND),
            "OLLAMA_SIM_TIME_TO_FIRST_TOKEN": "0.05",
            "OLLAMA_SIM_LOAD_DELAY": "0",
        },
    )
    yield served
    served.stop()


@pytest.fixture(scope="session")
def chromium_options() -> dict:
    """How Playwright starts Debian's Chromium: no browser download, no background traffic."""
    return {
        "executable_path": os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


@pytest.fixture(scope="session")
def topology():
    """The deployment under test: OLLAMA_QA_INVENTORY's, or the local topology.

    Imported here: the kit's topology needs PyYAML and Ansible, which only the environments
    that test a deployment install.
    """
    from deploykit.topology import Topology, TopologyError

    try:
        return Topology.load()
    except TopologyError as error:
        raise pytest.UsageError(str(error)) from None


@pytest.fixture(scope="session")
def intended_limit():
    """A web app limit as a deployment means it: the webapp role's WEBUI_* extra setting, else
    the app's default. Not the value the app runs with, which an operator's mistake would change.

    Imported here: the app is installed only in the environments that send it requests.
    """
    from webui.settings import Settings

    defaults = {field.name: field.default for field in dataclasses.fields(Settings)}

    def intended(topology, name: str) -> int:
        extra = topology.var(topology.web[0], "webapp_extra_settings")
        return int(extra.get(f"WEBUI_{name.upper()}", defaults[name]))

    return intended
