"""Shared fixtures: the role's variables as the instance sees them, and HTTP helpers."""

import json
import shlex

import pytest

from deploykit.haproxy import RuntimeAPI
from deploykit.ssh import probe_argv
from deploykit.variables import scenario_host_vars
from deploykit.wait import until


@pytest.fixture(scope="module")
def role_vars(host) -> dict:
    """The scenario's inventory and the roles' variables as Ansible resolved them for it."""
    return scenario_host_vars(host)


@pytest.fixture(scope="module")
def admin(host, role_vars) -> RuntimeAPI:
    """HAProxy's runtime API on the instance."""
    return RuntimeAPI(
        lambda *args: host.check_output(shlex.join(probe_argv("haproxy_api", *args))),
        role_vars["haproxy_admin_socket"],
    )


def wait_for_status(admin: RuntimeAPI, names: set[str], status: str) -> dict[str, dict[str, str]]:
    """Wait until the named web servers all have this status (bounded); return their rows."""

    def reached() -> dict[str, dict[str, str]] | None:
        servers = admin.servers("web")
        return servers if all(servers[name]["status"] == status for name in names) else None

    message = f"{sorted(names)} never became {status} in HAProxy's health checks"
    return until(reached, 30, message, interval=0.5)


@pytest.fixture(scope="module")
def backends_up(admin, role_vars) -> None:
    """Wait until HAProxy's health checks see every fake web machine up (bounded)."""
    names = {server["name"] for server in role_vars["haproxy_backend_servers"]}
    wait_for_status(admin, names, "UP")


@pytest.fixture(scope="module")
def curl(host, role_vars):
    """Run curl against HAProxy on loopback as a client of the public name would, TLS verified.

    The bootstrap certificate is self-signed for the public name, so it is its own trust anchor.
    Returns (status, headers as a lower-cased dict, body).
    """
    name = role_vars["public_hostname"]
    ca = f"{role_vars['haproxy_cert_dir']}/{role_vars['haproxy_bootstrap_cert_name']}"

    def request(url: str, *extra: str) -> tuple[int, dict[str, str], str]:
        out = host.check_output(
            "curl -sS -D - --resolve %s --resolve %s --cacert %s %s "
            + " ".join(["%s"] * len(extra)),
            f"{name}:{role_vars['haproxy_http_port']}:127.0.0.1",
            f"{name}:{role_vars['haproxy_https_port']}:127.0.0.1",
            ca,
            url.format(name=name),
            *extra,
        )
        head, _, body = out.replace("\r\n", "\n").partition("\n\n")
        status_line, *lines = head.splitlines()
        headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines)}
        return int(status_line.split()[1]), headers, body

    return request


def backend_port(body: str) -> int:
    """The port of the fake web machine that served a response."""
    return json.loads(body)["port"]
