"""TLS, headers and hostile input against a deployed topology (OLLAMA_QA_INVENTORY or local).

Hostile-input tests can also run against the app served on loopback with the simulator behind it
(OLLAMA_QA_SECURITY_TARGET=local): no topology needed, and the same properties must hold.
"""

import contextlib
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis.configuration import set_hypothesis_home_dir

# bench/ sits at the repository root, outside the installed src/ packages; the topology helpers
# (inventory, SSH as Ansible does it, HTTPS by name) are defined there once.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.topology import Topology, role_default, stop_process

# Hypothesis keeps caches in ./.hypothesis by default; they belong outside the clone.
set_hypothesis_home_dir(Path.home() / ".cache" / "ollama-qa" / "hypothesis")


class Target:
    """Where hostile requests go: HAProxy by name, or the app on loopback.

    ``request`` never follows redirects and never raises on an HTTP status, so each test sees
    exactly what the server answered.
    """

    def __init__(
        self, address: tuple[str, int], host: str, origin: str, context: ssl.SSLContext | None
    ) -> None:
        self.address = address
        self.host = host
        self.origin = origin
        self.cookie = ""
        self.context = context
        scheme = "https" if context else "http"
        self._http = httpx.Client(
            base_url=f"{scheme}://{address[0]}:{address[1]}", verify=context or False, timeout=30
        )

    def request(
        self, method: str, path: str, *, logged_in: bool = False, **kwargs: Any
    ) -> httpx.Response:
        """One request with the site's name in Host (and SNI); the session cookie if asked."""
        headers = {"Host": self.host, **kwargs.pop("headers", {})}
        if logged_in:
            headers["Cookie"] = self.cookie
        extensions = {"sni_hostname": self.host} if self.context else {}
        return self._http.request(method, path, headers=headers, extensions=extensions, **kwargs)

    @contextlib.contextmanager
    def stream(
        self, method: str, path: str, body: bytes, headers: dict[str, bytes]
    ) -> Iterator[httpx.Response]:
        """Like ``request`` but the body is left unread, for answers that may stream."""
        extensions = {"sni_hostname": self.host} if self.context else {}
        with self._http.stream(
            method,
            path,
            content=body,
            headers={"Host": self.host, **headers},
            extensions=extensions,
        ) as response:
            yield response

    def raw(self, data: bytes, timeout: float = 30) -> tuple[int, bytes]:
        """Send bytes exactly as given (httpx would normalize paths and refuse bad headers).

        Returns the status (0 when the server closed without an answer) and the first bytes.
        """
        with socket.create_connection(self.address, timeout=timeout) as plain:
            sock = (
                self.context.wrap_socket(plain, server_hostname=self.host)
                if self.context
                else plain
            )
            sock.sendall(data)
            received = b""
            with contextlib.suppress(OSError):
                while b"\r\n\r\n" not in received and len(received) < 65536:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    received += chunk
        status_line = received.split(b"\r\n", 1)[0].split(b" ")
        status = int(status_line[1]) if len(status_line) > 1 and status_line[1].isdigit() else 0
        return status, received

    def close(self) -> None:
        self._http.close()


def _login(target: Target, username: str, password: str) -> None:
    response = target.request(
        "POST",
        "/login",
        data={"username": username, "password": password},
        headers={"Origin": target.origin},
    )
    assert response.status_code == 303, f"login failed: {response.status_code} {response.text}"
    target.cookie = f"__Host-webui_session={response.cookies['__Host-webui_session']}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_http(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture(scope="session")
def local_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """The app and the simulator on loopback, with one user; both stopped at the end."""
    workdir = tmp_path_factory.mktemp("local-app")
    sim_port, app_port = _free_port(), _free_port()
    password = "local-security-password"  # only for this throwaway database
    env = dict(
        os.environ,
        WEBUI_OLLAMA_URL=f"http://127.0.0.1:{sim_port}",
        WEBUI_DATABASE_URL=f"sqlite://{workdir / 'webui.sqlite3'}",
        WEBUI_NODE_NAME="local",
    )
    for command, stdin in (("migrate",), ""), (("users", "add", "admin"), password + "\n"):
        subprocess.run(
            [sys.executable, "-m", "webui", *command],
            input=stdin,
            text=True,
            env=env,
            check=True,
            capture_output=True,
        )
    logs = (workdir / "sim.log").open("w"), (workdir / "app.log").open("w")
    sim = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ollama_sim",
            "--host",
            "127.0.0.1",
            "--port",
            str(sim_port),
            "--load-delay",
            "0",
        ],
        stdout=logs[0],
        stderr=subprocess.STDOUT,
    )
    app = subprocess.Popen(
        [sys.executable, "-m", "webui", "serve", "--host", "127.0.0.1", "--port", str(app_port)],
        env=env,
        stdout=logs[1],
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_http(f"http://127.0.0.1:{sim_port}/api/version", 20)
        _wait_http(f"http://127.0.0.1:{app_port}/healthz", 20)
        host = f"127.0.0.1:{app_port}"
        target = Target(("127.0.0.1", app_port), host, f"http://{host}", None)
        _login(target, "admin", password)
        yield target
        target.close()
    finally:
        for process in (app, sim):
            stop_process(process)
        for log in logs:
            log.close()


@pytest.fixture(scope="session")
def site(request: pytest.FixtureRequest) -> Iterator[Target]:
    """The hostile-input target: HAProxy through the load balancer's loopback, or the local app.

    Hostile requests to the topology go through an SSH tunnel ending on the load balancer, so
    the app sees them (and throttles them) as coming from that machine's loopback, never from
    this controller, whose own logins the other suites need. The session cookie is obtained
    directly: it is valid whatever the client address.
    """
    if os.environ.get("OLLAMA_QA_SECURITY_TARGET") == "local":
        yield request.getfixturevalue("local_app")
        return
    topology: Topology = request.getfixturevalue("topology")
    https_port = int(role_default("haproxy", "haproxy_https_port"))
    # A user of this run's own: what hostile input leaves in its history goes with it at the end.
    with topology.temporary_user("security") as (name, password):
        with topology.client() as direct:
            cookie = direct.login(name, password)
        with topology.tunnel(topology.lb, https_port) as port:
            target = Target(
                ("127.0.0.1", port), topology.hostname, topology.origin, topology.ssl_context()
            )
            target.cookie = cookie
            yield target
            target.close()
