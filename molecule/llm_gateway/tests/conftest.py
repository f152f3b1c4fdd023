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

import pytest

from deploykit.ssh import probe_argv
from deploykit.variables import scenario_host_vars


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


def stored_hash(token: str) -> str:
    """The hash the credentials table keeps for a token: APR's {SHA} format (htpasswd -s)."""
    return "{SHA}" + base64.b64encode(hashlib.sha1(token.encode()).digest()).decode()  # noqa: S324


class Gateway:
    """Requests to the gateway from inside the machine, trusting only the role's CA."""

    def __init__(self, host: Any, variables: dict[str, Any]) -> None:
        self.host = host
        self.port = variables["llm_gateway_port"]
        self.ca = variables["__llm_gateway_ca_cert"]

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
        out = self.host.check_output(shlex.join(probe_argv("https_lines", *args))).splitlines()
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
        command = shlex.join(probe_argv("raw_request", *args))
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
                ["docker", "exec", "-i", container, *probe_argv("relay", str(port))],  # noqa: S607
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
def role_vars(host: Any) -> dict[str, Any]:
    """The scenario's inventory and the roles' variables as Ansible resolved them for it."""
    return scenario_host_vars(host)


@pytest.fixture(scope="module")
def gateway(host: Any, role_vars: dict[str, Any]) -> Gateway:
    """A client for the gateway."""
    return Gateway(host, role_vars)


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
