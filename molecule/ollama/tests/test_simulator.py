"""The simulator method: the project's simulator offers the configured models by name."""

from __future__ import annotations

from typing import Any

from conftest import http_json

testinfra_hosts = ["simulator-ollama"]


def test_api_version_reports_pinned_version(host: Any, api: str, ollama: dict[str, Any]) -> None:
    """/api/version answers with the role's pinned version."""
    status, body = http_json(host, f"{api}/api/version")
    assert status == 200
    assert body["version"] == ollama["ollama_version"]


def test_gguf_is_not_copied(host: Any, ollama: dict[str, Any]) -> None:
    """A GGUF import is offered by name only: no weights reach the simulator's machine."""
    assert host.check_output(f"find {ollama['ollama_models_dir']} -type f") == ""
