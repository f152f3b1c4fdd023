"""TLS, headers and hostile input against a deployed topology (OLLAMA_QA_INVENTORY or local).

Hostile-input tests can also run against the app served on loopback with the simulator behind it
(OLLAMA_QA_SECURITY_TARGET=local): no topology needed, and the same properties must hold.
"""

import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis.configuration import set_hypothesis_home_dir

from deploykit import process
from deploykit.client import SiteClient
from deploykit.state import cache_dir
from deploykit.topology import Topology

# Hypothesis keeps caches in ./.hypothesis by default; they belong outside the clone.
set_hypothesis_home_dir(cache_dir() / "hypothesis")


class Target(SiteClient):
    """Where hostile requests go: HAProxy by name, or the app on loopback.

    ``request`` never follows redirects and never raises on an HTTP status, so each test sees
    exactly what the server answered. The session cookie goes only where a test asks for it.
    """

    def request(
        self, method: str, path: str, *, logged_in: bool = False, **kwargs: Any
    ) -> httpx.Response:
        """One request with the site's name in Host (and SNI); the session cookie if asked."""
        if logged_in:
            kwargs["headers"] = {**kwargs.get("headers", {}), "Cookie": self.cookie}
        return self._http.request(method, path, **self._arguments(kwargs, ""))

    @contextlib.contextmanager
    def stream(
        self, method: str, path: str, body: bytes, headers: dict[str, bytes]
    ) -> Iterator[httpx.Response]:
        """Like ``request`` but the body is left unread, for answers that may stream."""
        arguments = self._arguments({"content": body, "headers": headers}, "")
        with self._http.stream(method, path, **arguments) as response:
            yield response

    def raw(self, data: bytes, timeout: float = 30) -> tuple[int, bytes]:
        """Send bytes exactly as given (httpx would normalize paths and refuse bad headers).

        Returns the status (0 when the server closed without an answer) and the first bytes.
        """
        with socket.create_connection((self.address, self.port), timeout=timeout) as plain:
            sock = (
                self.context.wrap_socket(plain, server_hostname=self.server_name)
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


@pytest.fixture(scope="session")
def local_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """The app and the simulator on loopback, with one user; both stopped at the end."""
    workdir = tmp_path_factory.mktemp("local-app")
    password = "local-security-password"  # only for this throwaway database
    sim = process.launch(
        [sys.executable, "-m", "ollama_sim", "--load-delay", "0"], {}, workdir / "sim.log"
    )
    env = {
        "WEBUI_OLLAMA_URL": sim.url,
        "WEBUI_DATABASE_URL": f"sqlite://{workdir / 'webui.sqlite3'}",
        "WEBUI_NODE_NAME": "local",
    }
    try:
        for command, stdin in (("migrate",), ""), (("users", "add", "admin"), password + "\n"):
            subprocess.run(
                [sys.executable, "-m", "webui", *command],
                input=stdin,
                text=True,
                env={**os.environ, **env},
                check=True,
                capture_output=True,
            )
        app = process.launch([sys.executable, "-m", "webui", "serve"], env, workdir / "app.log")
        try:
            port = int(app.url.rsplit(":", 1)[1])
            host = f"127.0.0.1:{port}"
            with Target(
                "127.0.0.1", port, host=host, origin=f"http://{host}", context=None
            ) as target:
                target.login("admin", password)
                yield target
        finally:
            app.stop()
    finally:
        sim.stop()


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
    https_port = int(topology.var(topology.lb, "haproxy_https_port"))
    # A user of this run's own: what hostile input leaves in its history goes with it at the end.
    with topology.temporary_user("security") as (name, password):
        with topology.client() as direct:
            cookie = direct.login(name, password)
        with (
            topology.tunnel(topology.lb, https_port) as port,
            Target(
                "127.0.0.1",
                port,
                host=topology.hostname,
                origin=topology.origin,
                context=topology.ssl_context(),
            ) as target,
        ):
            target.cookie = cookie
            yield target
