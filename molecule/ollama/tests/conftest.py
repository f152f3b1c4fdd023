"""Expected values for the checks: the role's defaults overlaid with the scenario's inventory."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml

ROLES = Path(__file__).resolve().parents[3] / "infrastructure" / "ansible" / "roles"


def role_internals(role: str) -> dict[str, Any]:
    """The role's fixed internal paths (vars/main.yml), read rather than restated."""
    return yaml.safe_load((ROLES / role / "vars" / "main.yml").read_text())


def role_variables(host: Any, role: str) -> dict[str, Any]:
    """Return the role's defaults with inventory overrides, templated like Ansible would.

    Reading defaults/main.yml keeps one place for each fact: the tests never restate a port.
    """
    defaults = yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text()) or {}
    merged = {**defaults, **host.ansible.get_variables()}
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)  # noqa: S701

    def render(value: Any) -> Any:
        if isinstance(value, str) and "{{" in value:
            try:
                return env.from_string(value).render(merged)
            except jinja2.TemplateError:
                return value  # needs Ansible's own filters or facts; no test reads it
        return value

    return {name: render(value) for name, value in merged.items() if name.startswith(role)}


def http_json(host: Any, url: str, body: Any = None, timeout: int = 10) -> tuple[int, Any]:
    """GET url (POST body as JSON, if given) from inside the machine with its own Python.

    The VM image has no curl, and Ollama listens on the machine's loopback only.
    """
    script = (
        "import json,sys,urllib.request,urllib.error\n"
        "data=sys.argv[2].encode() if sys.argv[2] else None\n"
        "h={'Content-Type':'application/json'}\n"
        "req=urllib.request.Request(sys.argv[1],data=data,headers=h)\n"
        "try:\n"
        " r=urllib.request.urlopen(req,timeout=float(sys.argv[3]))\n"
        " print(r.status); print(r.read().decode())\n"
        "except urllib.error.HTTPError as e:\n"
        " print(e.code); print(e.read().decode())\n"
    )
    payload = "" if body is None else json.dumps(body)
    out = host.check_output(
        f"python3 -c {shlex.quote(script)} {shlex.quote(url)} {shlex.quote(payload)} {timeout}"
    )
    status, _, text = out.partition("\n")
    return int(status), json.loads(text) if text.strip() else None


def templated(host: Any, name: str) -> Any:
    """A variable as Ansible templates it (lookups included), e.g. paths run-all.sh passes in."""
    return host.ansible("debug", f"var={name}", check=False)[name]


@pytest.fixture(scope="module")
def ollama(host: Any) -> dict[str, Any]:
    """The ollama role's variables as this scenario applied them."""
    return role_variables(host, "ollama")


@pytest.fixture(scope="module")
def models(host: Any) -> list[Any]:
    """ollama_models as the role received them: names and GGUF imports."""
    return templated(host, "ollama_models")


@pytest.fixture(scope="module")
def api(ollama: dict[str, Any]) -> str:
    """Base URL of the API on the machine's loopback."""
    return f"http://{ollama['ollama_host']}:{ollama['ollama_port']}"
