"""Expected values and request helpers for the gateway checks, run from inside the machine."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import shlex
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

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


# Runs on the machine: sends the given bytes exactly (malformed requests included), over TLS
# verified against the role's CA unless told "plain"; prints the status, the headers as JSON and
# the body. The request must make the server close the connection (Connection: close, or an error).
_RAW_CLIENT = r"""
import base64, json, socket, ssl, sys
ca, host, port, mode, data = sys.argv[1:6]
sock = socket.create_connection((host, int(port)), timeout=30)
if mode == "tls":
    sock = ssl.create_default_context(cafile=ca).wrap_socket(sock, server_hostname=host)
sock.sendall(base64.b64decode(data))
received = b""
while chunk := sock.recv(65536):
    received += chunk
head, _, body = received.partition(b"\r\n\r\n")
status_line, *fields = head.decode("latin-1").split("\r\n")
print(status_line.split(" ")[1])
print(json.dumps(dict(field.split(": ", 1) for field in fields)))
print(body.decode("latin-1"), end="")
"""

# Runs on the machine for each connection through the tunnel: joins its stdin and stdout to a
# TCP connection to the given port on the machine's loopback.
_RELAY = r"""
import os, socket, sys, threading
conn = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
def upstream():
    while data := os.read(0, 65536):
        conn.sendall(data)
    conn.shutdown(socket.SHUT_WR)
threading.Thread(target=upstream, daemon=True).start()
while data := conn.recv(65536):
    os.write(1, data)
"""


def role_internals(role: str) -> dict[str, Any]:
    """The role's fixed internal values (vars/main.yml), read rather than restated."""
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


def basic(username: str, password: str) -> str:
    """An Authorization header value for Basic auth."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def bearer(token: str) -> str:
    """An Authorization header value for a Bearer token."""
    return f"Bearer {token}"


def lookup_key(token: str) -> str:
    """The key under which the credentials table finds a Bearer token (SHA-1, hex)."""
    # SHA-1 is what the gateway computes (the strongest hash Apache 2.4's expressions offer).
    return hashlib.sha1(token.encode()).hexdigest()  # noqa: S324


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

    def raw(
        self, data: bytes, port: int | None = None, tls: bool = True
    ) -> tuple[int, dict[str, str], str]:
        """Send bytes as they are (http.client refuses malformed ones); status, headers, body."""
        args = [
            self.ca,
            "127.0.0.1",
            str(port or self.port),
            "tls" if tls else "plain",
            base64.b64encode(data).decode(),
        ]
        command = "python3 -c " + " ".join(shlex.quote(a) for a in [_RAW_CLIENT, *args])
        status, headers, *body = self.host.check_output(command).split("\n", 2)
        return int(status), json.loads(headers), "".join(body)


def _pump_into(source: socket.socket, sink: IO[bytes]) -> None:
    with contextlib.suppress(OSError, ValueError):
        while data := source.recv(65536):
            sink.write(data)
            sink.flush()
    with contextlib.suppress(OSError):
        sink.close()


def _pump_out(source: IO[bytes], sink: socket.socket) -> None:
    with contextlib.suppress(OSError, ValueError):
        # Whatever the relay has written so far, at once: a stream must not wait for a full block.
        while data := os.read(source.fileno(), 65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.close()


@contextlib.contextmanager
def tunnel(container: str, port: int) -> Iterator[int]:
    """A port on the controller's loopback that leads to a port on the machine's loopback.

    The gateway admits only the web machines, so a client that runs on the controller (the
    official ollama package from the test dependencies) goes through `docker exec`: every
    connection it opens is piped through a relay started inside the machine for it.
    """
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()
    relays: list[subprocess.Popen[bytes]] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            client.settimeout(None)
            # The docker CLI from PATH (it comes with the engine); fixed arguments, no shell.
            relay = subprocess.Popen(  # noqa: S603
                ["docker", "exec", "-i", container, "python3", "-c", _RELAY, str(port)],  # noqa: S607
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
            relays.append(relay)
            threading.Thread(target=_pump_into, args=(client, relay.stdin), daemon=True).start()
            threading.Thread(target=_pump_out, args=(relay.stdout, client), daemon=True).start()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        server.join()
        listener.close()
        for relay in relays:
            relay.kill()
            relay.wait()


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
def gateway_internals() -> dict[str, Any]:
    """The llm_gateway role's internal values (vars/main.yml)."""
    return role_internals("llm_gateway")


@pytest.fixture(scope="module")
def gateway_url(host: Any, gateway: Gateway) -> Iterator[str]:
    """The gateway's URL as seen from the controller, through a tunnel into the machine."""
    variables = host.ansible.get_variables()
    container = variables.get("ansible_host", variables["inventory_hostname"])
    with tunnel(container, gateway.port) as port:
        yield f"https://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def gateway_tls(host: Any, gateway: Gateway) -> ssl.SSLContext:
    """A TLS context that trusts the role's CA, and nothing else, for clients on the controller."""
    return ssl.create_default_context(cadata=host.file(gateway.ca).content_string)


@pytest.fixture(scope="module")
def token() -> str:
    """The webui token the scenario generated into its ephemeral directory."""
    path = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "webui-token"
    return path.read_text().split()[0]
