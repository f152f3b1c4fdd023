"""Expected values for the checks: the scenario's inventory and the role's variables."""

from __future__ import annotations

import json
import shlex
from typing import Any

import pytest

from deploykit.ssh import probe_argv
from deploykit.variables import scenario_host_vars


def http_json(host: Any, url: str, body: Any = None, timeout: int = 10) -> tuple[int, Any]:
    """GET url (POST body as JSON, if given) from inside the machine with its own Python.

    The VM image has no curl, and Ollama listens on the machine's loopback only.
    """
    payload = "" if body is None else json.dumps(body)
    out = host.check_output(shlex.join(probe_argv("http_json", url, payload, str(timeout))))
    status, _, text = out.partition("\n")
    return int(status), json.loads(text) if text.strip() else None


@pytest.fixture(scope="module")
def ollama(host: Any) -> dict[str, Any]:
    """The scenario's inventory and the role's variables as Ansible resolved them for it."""
    return scenario_host_vars(host)


@pytest.fixture(scope="module")
def models(ollama: dict[str, Any]) -> list[Any]:
    """ollama_models as the role received them: names and GGUF imports."""
    return ollama["ollama_models"]


@pytest.fixture(scope="module")
def api(ollama: dict[str, Any]) -> str:
    """Base URL of the API on the machine's loopback."""
    return f"http://{ollama['ollama_host']}:{ollama['ollama_port']}"
