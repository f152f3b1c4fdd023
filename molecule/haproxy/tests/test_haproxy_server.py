"""haproxy-server: a web machine is drained without cutting its requests, and put back."""

import json
import shlex
import time

import pytest
from conftest import backend_port, wait_for_status

from deploykit.wait import until


@pytest.fixture
def tool(host, role_vars):
    """Run haproxy-server on the instance as root, as the webapp role does."""

    def run(*args: str):
        return host.run(shlex.join([role_vars["haproxy_server_tool"], *args]))

    return run


@pytest.fixture
def busy_server(host, admin, role_vars, backends_up):
    """Start a request that one web server holds for the given seconds; return that server's
    name and the file the answer will be in.

    Afterwards every server is ready again and seen up, whatever the test did to it.
    """
    name = role_vars["public_hostname"]
    port = role_vars["haproxy_https_port"]
    ca = f"{role_vars['haproxy_cert_dir']}/{role_vars['haproxy_bootstrap_cert_name']}"

    def hold(seconds: int) -> tuple[str, str]:
        output = host.check_output("mktemp")
        host.run(
            f"nohup curl -sS --resolve {name}:{port}:127.0.0.1 --cacert {ca} "
            f"'https://{name}/slow?seconds={seconds}' > {output} 2>/dev/null &"
        )
        busy = until(
            lambda: [n for n, row in admin.servers("web").items() if row["scur"] == "1"],
            10,
            "no web server took the held request within 10 s",
            interval=0.1,
        )
        return busy[0], output

    yield hold
    names = {server["name"] for server in role_vars["haproxy_backend_servers"]}
    for server in names:
        admin.set_server_state("web", server, "ready")
    wait_for_status(admin, names, "UP")


def test_tool_is_root_only(host, role_vars):
    """The tool drives HAProxy's admin socket, so only root may run it."""
    tool = host.file(role_vars["haproxy_server_tool"])
    assert (tool.user, tool.group, tool.mode) == ("root", "root", 0o750)


def test_drain_waits_for_the_request_in_flight_and_ready_puts_back(
    host, admin, role_vars, tool, busy_server, curl
):
    """drain returns once the held request has been answered; meanwhile new requests go to the
    other server; ready returns once the drained server is up again."""
    busy, output = busy_server(4)
    port = {s["name"]: s["port"] for s in role_vars["haproxy_backend_servers"]}
    started = time.monotonic()
    drained = tool("drain", busy, "--timeout", "30")
    assert drained.rc == 0, drained.stdout + drained.stderr
    # Complete JSON from the server that held it: the answer ended before drain returned.
    held = json.loads(host.file(output).content_string)
    assert held["port"] == port[busy]
    assert time.monotonic() - started > 1, "drain returned at once: it did not wait"

    assert admin.servers("web")[busy]["status"] == "DRAIN"
    _, _, body = curl("https://{name}/")
    assert backend_port(body) != port[busy]

    ready = tool("ready", busy, "--timeout", "30")
    assert ready.rc == 0, ready.stdout + ready.stderr
    assert admin.servers("web")[busy]["status"] == "UP"


def test_drain_gives_up_after_its_timeout(tool, busy_server):
    """A request longer than the timeout does not hold drain: it exits 4, saying how many remain."""
    busy, _ = busy_server(8)
    started = time.monotonic()
    drained = tool("drain", busy, "--timeout", "1")
    assert drained.rc == 4
    assert "1 requests still in flight" in drained.stdout
    assert time.monotonic() - started < 6


def test_unknown_server_is_reported_not_failed(tool):
    """A machine HAProxy does not balance (yet) gets exit 3, so a restart goes ahead undrained."""
    result = tool("drain", "no-such-machine")
    assert result.rc == 3
    assert "has no server web/no-such-machine" in result.stdout
