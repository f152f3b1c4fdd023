"""The ollama role on every machine of the scenario: a hardened loopback-only service."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import http_json


def test_service_is_running(host: Any) -> None:
    """ollama.service is active."""
    assert host.service("ollama").is_running


def test_service_is_enabled(host: Any) -> None:
    """ollama.service starts at boot."""
    assert host.service("ollama").is_enabled


def test_service_runs_as_dedicated_user(host: Any, ollama: dict[str, Any]) -> None:
    """The server process runs as the role's system user, not root."""
    pid = host.check_output("systemctl show -p MainPID --value ollama.service")
    assert host.check_output(f"ps -o user= -p {pid}") == ollama["ollama_user"]


def test_service_user_is_a_system_account_without_login(host: Any, ollama: dict[str, Any]) -> None:
    """The service user cannot log in."""
    user = host.user(ollama["ollama_user"])
    assert user.exists
    assert user.shell == "/usr/sbin/nologin"
    assert user.uid < 1000


def test_listens_only_on_configured_loopback_address(host: Any, ollama: dict[str, Any]) -> None:
    """The API port is bound to 127.0.0.1 alone, never to a wildcard or an external address."""
    port = f":{ollama['ollama_port']}"
    bound = [s for s in host.socket.get_listening_sockets() if s.endswith(port)]
    assert bound == [f"tcp://{ollama['ollama_host']}{port}"]
    assert ollama["ollama_host"] == "127.0.0.1"


def test_api_tags_lists_configured_models(host: Any, api: str, models: list[Any]) -> None:
    """/api/tags answers 200 with exactly the configured models, names and GGUF imports alike."""
    status, body = http_json(host, f"{api}/api/tags")
    assert status == 200
    names = {model["name"] for model in body["models"]}
    configured = [m["name"] if isinstance(m, dict) else m for m in models]
    assert names == {m if ":" in m else f"{m}:latest" for m in configured}


@pytest.mark.parametrize(
    ("prop", "value"),
    [
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("CapabilityBoundingSet", ""),
        ("RestrictSUIDSGID", "yes"),
        # Neither the CPU-only binary nor the simulator needs a device or W+X memory.
        ("PrivateDevices", "yes"),
        ("MemoryDenyWriteExecute", "yes"),
    ],
)
def test_unit_is_hardened(host: Any, prop: str, value: str) -> None:
    """The unit carries the sandboxing directives the role promises."""
    assert host.check_output(f"systemctl show -p {prop} --value ollama.service") == value


def test_models_directory_is_private_to_service_user(host: Any, ollama: dict[str, Any]) -> None:
    """The models directory belongs to the service user with no access for others."""
    models = host.file(ollama["ollama_models_dir"])
    assert models.is_directory
    assert models.user == ollama["ollama_user"]
    assert models.mode == 0o750


def test_no_staged_gguf_lingers(host: Any, ollama: dict[str, Any]) -> None:
    """No GGUF waits in the staging directory: Ollama's blob (or nothing) is the only copy."""
    assert not host.file(ollama["__ollama_import_dir"]).exists
