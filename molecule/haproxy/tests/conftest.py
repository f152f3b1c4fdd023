"""Shared fixtures: the role's variables as the instance sees them, and HTTP helpers."""

import json
import time
from pathlib import Path

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[3] / "infrastructure/ansible/roles"
ROLE_DEFAULTS = ROLES / "haproxy/defaults/main.yml"


@pytest.fixture(scope="module")
def role_vars(host) -> dict:
    """The roles' defaults overlaid with the scenario's inventory: one source of expected values."""
    firewall = yaml.safe_load((ROLES / "firewall/defaults/main.yml").read_text())
    defaults = yaml.safe_load(ROLE_DEFAULTS.read_text())
    return {**firewall, **defaults, **host.ansible.get_variables()}


@pytest.fixture(scope="module")
def admin(host, role_vars):
    """Send one command to HAProxy's runtime API and return its answer."""

    def send(command: str) -> str:
        script = (
            "import socket,sys;s=socket.socket(socket.AF_UNIX);s.connect(sys.argv[1]);"
            "s.sendall(sys.argv[2].encode()+b'\\n');"
            "print(b''.join(iter(lambda:s.recv(65536),b'')).decode())"
        )
        return host.check_output(
            "python3 -c %s %s %s", script, role_vars["haproxy_admin_socket"], command
        )

    return send


def web_servers(admin) -> dict[str, dict[str, str]]:
    """The servers of backend web as HAProxy's "show stat" reports them, by name."""
    header, *lines = admin("show stat").splitlines()
    columns = header.removeprefix("# ").split(",")
    rows = [dict(zip(columns, line.split(","), strict=False)) for line in lines if line]
    servers = {
        row["svname"]: row
        for row in rows
        if row["pxname"] == "web" and row["svname"] not in ("FRONTEND", "BACKEND")
    }
    for row in servers.values():
        # HAProxy marks the last check's status with "* " while the next check is running.
        row["check_status"] = row["check_status"].removeprefix("* ")
    return servers


def wait_for_status(admin, names: set[str], status: str) -> dict[str, dict[str, str]]:
    """Wait until the named web servers all have this status (bounded); return their rows."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        servers = web_servers(admin)
        if all(servers[name]["status"] == status for name in names):
            return servers
        time.sleep(0.5)
    pytest.fail(f"{sorted(names)} never became {status} in HAProxy's health checks")


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
