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


def http_json(host: Any, url: str) -> tuple[int, Any]:
    """GET url from inside the machine with its own Python; the VM image has no curl."""
    script = (
        "import json,sys,urllib.request,urllib.error\n"
        "try:\n"
        " r=urllib.request.urlopen(sys.argv[1],timeout=10)\n"
        " print(r.status); print(r.read().decode())\n"
        "except urllib.error.HTTPError as e:\n"
        " print(e.code); print(e.read().decode())\n"
    )
    out = host.check_output(f"python3 -c {shlex.quote(script)} {shlex.quote(url)}")
    status, _, body = out.partition("\n")
    return int(status), json.loads(body) if body.strip() else None


@pytest.fixture(scope="module")
def ollama(host: Any) -> dict[str, Any]:
    """The ollama role's variables as this scenario applied them."""
    return role_variables(host, "ollama")
