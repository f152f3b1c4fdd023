"""Shared by tests that run real servers: start one as a subprocess on a free loopback port.

The server picks the port itself (``--port 0``) and logs its address, so there is no race for a
port; each fixture that starts a process ends exactly that process, by its handle. The suites
against a deployment (resilience, security) share the ``topology`` fixture at the end.
"""

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

ADDRESS = re.compile(rb"http://127\.0\.0\.1:(\d+)")
STARTUP_SECONDS = 20


@dataclass
class Served:
    """A server process we started, its base URL and its log file."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def stop(self) -> None:
        """End this process (and only this one): SIGTERM, then SIGKILL if it hangs."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_server(
    command: Sequence[str], env: Mapping[str, str], log: Path, cwd: Path | None = None
) -> Served:
    """Run ``python -m <command> --host 127.0.0.1 --port 0`` and wait until it logs its URL."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", *command, "--host", "127.0.0.1", "--port", "0"],
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
            cwd=cwd,
        )
    served = Served(process, "", log)
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        found = ADDRESS.search(log.read_bytes())
        if found:
            served.url = f"http://127.0.0.1:{found.group(1).decode()}"
            return served
        if process.poll() is not None:
            break
        time.sleep(0.05)
    served.stop()
    raise RuntimeError(f"{' '.join(command)} did not start:\n{log.read_text(errors='replace')}")


@pytest.fixture(scope="session")
def launch(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """A factory for servers that all end when the session does (if their fixture did not)."""
    started: list[Served] = []

    def run(name: str, command: Sequence[str], env: Mapping[str, str] | None = None) -> Served:
        log = tmp_path_factory.mktemp(name) / f"{name}.log"
        served = start_server(command, env or {}, log)
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

    bench/ is put on sys.path by the conftest of the suites that use it.
    """
    from bench.topology import Topology, TopologyError

    try:
        return Topology.load()
    except TopologyError as error:
        raise pytest.UsageError(str(error)) from None
