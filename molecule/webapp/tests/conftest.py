"""Fixtures shared by the webapp scenario's tests."""

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

ROLE = (
    Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[3]))
    / "infrastructure/ansible/roles/webapp"
)

PRIVATE_TLS = ROLE.parent / "private_tls"
LLM_GATEWAY = ROLE.parent / "llm_gateway"

# Runs on the instance: one HTTPS request with the standard library (the VM has no curl), trusting
# the machine's private CA, answered as JSON so the tests see status, headers and body.
_FETCH = """
import json, ssl, sys, urllib.error, urllib.request
method, url, body, headers = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
tls = urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=sys.argv[5]))
class Keep(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):
        return None
request = urllib.request.Request(url, data=body.encode() or None, method=method, headers=headers)
try:
    response = urllib.request.build_opener(Keep, tls).open(request, timeout=10)
except urllib.error.HTTPError as error:
    response = error
print(json.dumps({"status": response.status, "headers": dict(response.headers.items()),
                  "body": response.read().decode("utf-8", "replace")}))
"""


@pytest.fixture
def role_vars(host) -> dict[str, Any]:
    """The role's defaults and internal vars overlaid with the inventory: what the role ran with."""
    merged: dict[str, Any] = {}
    for part in ("defaults/main.yml", "vars/main.yml"):
        merged.update(yaml.safe_load((ROLE / part).read_text()))
    return {**merged, **host.ansible.get_variables()}


@pytest.fixture
def llm_machines(host, role_vars) -> list[dict[str, Any]]:
    """Each stand-in LLM machine's inventory variables, as the role read them through hostvars:
    its gateway port defaults to the llm_gateway role's, and its CA "fact" is rendered."""
    port = yaml.safe_load((LLM_GATEWAY / "defaults/main.yml").read_text())["llm_gateway_port"]
    machines = []
    for name in role_vars["groups"]["llm"]:
        variables = host.backend.ansible_runner.get_variables(name)
        pem = f"hostvars['{name}'].llm_gateway_ca_pem"
        machines.append(
            {
                "name": name,
                "address": variables["private_address"],
                "port": variables.get("llm_gateway_port", port),
                "ca_pem": host.ansible("debug", f"var={pem}", check=False)[pem],
            }
        )
    return machines


@pytest.fixture
def app_origin(role_vars) -> str:
    """The app's own address on the instance; its port speaks TLS."""
    return f"https://127.0.0.1:{role_vars['webapp_port']}"


@pytest.fixture
def app_tls_file(role_vars):
    """Where private_tls wrote one of its files for the app (ca_cert, ca_key, server_key, ...)."""
    internal = yaml.safe_load((PRIVATE_TLS / "vars/main.yml").read_text())
    server_dir = f"{role_vars['webapp_config_dir']}/{role_vars['__webapp_tls_dir']}"

    def _path(name: str) -> str:
        return (
            internal[f"__private_tls_{name}"]
            .replace("{{ private_tls_ca_dir }}", role_vars["webapp_tls_ca_dir"])
            .replace("{{ private_tls_dir }}", server_dir)
        )

    return _path


@pytest.fixture
def app_ca_cert(app_tls_file) -> str:
    """The machine's private CA certificate, which the app's certificate chains to."""
    return app_tls_file("ca_cert")


@pytest.fixture
def container(host, role_vars) -> dict[str, Any]:
    """`docker inspect` of the web app container."""
    return json.loads(host.check_output(f"docker inspect {role_vars['webapp_container_name']}"))[0]


@pytest.fixture
def fetch(host, app_origin, app_ca_cert):
    """Make an HTTP request to the web app on the instance; returns status, headers and body."""

    def _fetch(
        path: str, method: str = "GET", body: str = "", headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        result = host.run(
            "python3 -c %s %s %s %s %s %s",
            _FETCH,
            method,
            app_origin + path,
            body,
            json.dumps(headers or {}),
            app_ca_cert,
        )
        assert result.rc == 0, result.stderr
        return json.loads(result.stdout)

    return _fetch
