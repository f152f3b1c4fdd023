"""Expected values and request helpers for the gateway checks, run from inside the machine."""

from __future__ import annotations

import base64
import json
import os
import shlex
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml

ROLES = Path(__file__).resolve().parents[3] / "infrastructure" / "ansible" / "roles"

# Runs on the machine: one HTTPS request verified against the role's CA; prints the status, the
# response headers as JSON, then every body line with the monotonic second it arrived at.
_CLIENT = r"""
import http.client, json, ssl, sys, time
ca, host, port, method, path, auth, body = sys.argv[1:8]
ctx = ssl.create_default_context(cafile=ca)
conn = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=30)
# Like the web app's httpx client, ask for compression: the gateway must not buffer to compress.
headers = {"Accept-Encoding": "gzip, deflate"}
if auth:
    headers["Authorization"] = auth
if body:
    headers["Content-Type"] = "application/json"
conn.request(method, path, body=body or None, headers=headers)
resp = conn.getresponse()
print(resp.status)
print(json.dumps(dict(resp.getheaders())))
while True:
    line = resp.readline()
    if not line:
        break
    print(json.dumps([time.monotonic(), line.decode(errors="replace")]))
"""


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


def basic(username: str, password: str) -> str:
    """An Authorization header value for Basic auth."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


class Gateway:
    """Requests to the gateway from inside the machine, trusting only the role's CA."""

    def __init__(self, host: Any, variables: dict[str, Any]) -> None:
        self.host = host
        self.port = variables["llm_gateway_port"]
        self.ca = f"{variables['llm_gateway_tls_dir']}/ca.crt"

    def request(
        self,
        path: str,
        auth: str = "",
        method: str = "GET",
        body: str = "",
        server: str = "127.0.0.1",
    ) -> tuple[int, dict[str, str], list[tuple[float, str]]]:
        """Return status, headers and the body's lines with their arrival times."""
        args = [self.ca, server, str(self.port), method, path, auth, body]
        command = "python3 -c " + " ".join(shlex.quote(a) for a in [_CLIENT, *args])
        out = self.host.check_output(command).splitlines()
        lines = [tuple(json.loads(line)) for line in out[2:]]
        return int(out[0]), json.loads(out[1]), lines


@pytest.fixture(scope="module")
def gateway_vars(host: Any) -> dict[str, Any]:
    """The llm_gateway role's variables as this scenario applied them."""
    return role_variables(host, "llm_gateway")


@pytest.fixture(scope="module")
def ollama_vars(host: Any) -> dict[str, Any]:
    """The ollama role's variables as this scenario applied them."""
    return role_variables(host, "ollama")


@pytest.fixture(scope="module")
def gateway(host: Any, gateway_vars: dict[str, Any]) -> Gateway:
    """A client for the gateway."""
    return Gateway(host, gateway_vars)


@pytest.fixture(scope="module")
def token() -> str:
    """The webui token the scenario generated into its ephemeral directory."""
    path = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "webui-token"
    return path.read_text().split()[0]
