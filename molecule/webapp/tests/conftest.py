"""Fixtures shared by the webapp scenario's tests."""

import json
import posixpath
import shlex
from typing import Any

import pytest

from deploykit.ssh import probe_argv
from deploykit.variables import scenario, scenario_host_vars


@pytest.fixture
def role_vars(host) -> dict[str, Any]:
    """The inventory and the roles' variables as Ansible resolved them: what the role ran with."""
    return scenario_host_vars(host)


@pytest.fixture
def llm_machines(role_vars) -> list[dict[str, Any]]:
    """Each stand-in LLM machine's variables, as the role read them through hostvars: its gateway
    port defaults to the llm_gateway role's, and its CA "fact" is rendered."""
    machines = []
    for name in role_vars["groups"]["llm"]:
        variables = scenario().of(name)
        machines.append(
            {
                "name": name,
                "address": variables["private_address"],
                "port": variables["llm_gateway_port"],
                "ca_pem": variables["llm_gateway_ca_pem"],
            }
        )
    return machines


@pytest.fixture
def app_origin(role_vars) -> str:
    """The app's own address on the instance; its port speaks TLS."""
    return f"https://127.0.0.1:{role_vars['webapp_port']}"


@pytest.fixture
def app_server_tls_dir(role_vars) -> str:
    """Where private_tls keeps the app's server.key and server.crt (the config dir's tls)."""
    return posixpath.join(role_vars["webapp_config_dir"], role_vars["__webapp_tls_dir"])


@pytest.fixture
def app_ca_cert(role_vars) -> str:
    """The machine's private CA certificate (private_tls's ca.crt), which the app's chains to."""
    return posixpath.join(role_vars["webapp_tls_ca_dir"], "ca.crt")


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
        arguments = (method, app_origin + path, body, json.dumps(headers or {}), app_ca_cert)
        result = host.run(shlex.join(probe_argv("https_fetch", *arguments)))
        assert result.rc == 0, result.stderr
        return json.loads(result.stdout)

    return _fetch
