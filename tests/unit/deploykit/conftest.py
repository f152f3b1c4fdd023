"""Local stand-ins for what the kit talks to: HTTP and HTTPS servers, a certificate, a socket.

Everything listens on 127.0.0.1 on a port the kernel picks, and stops with its fixture.
"""

import json
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class Server:
    """A server on loopback that answers each request with ``answer(method, path, headers, body)``
    and keeps what it received."""

    port: int
    received: list[dict]


def _handler(answer: Callable[[str, str, dict, bytes], Answer], received: list) -> type:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            headers = dict(self.headers.items())
            received.append({"method": self.command, "path": self.path, "headers": headers})
            reply = answer(self.command, self.path, headers, body)
            self.send_response(reply.status)
            for name, value in reply.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(reply.body)

        do_GET = do_POST = do_DELETE = _any

        def log_message(self, format: str, *args: object) -> None:
            pass  # the test's own output stays readable

    return Handler


def _serve(answer, context: ssl.SSLContext | None = None) -> Iterator[Server]:
    received: list[dict] = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(answer, received))
    if context is not None:
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(httpd.server_address[1], received)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)


def echo(method: str, path: str, headers: dict, body: bytes) -> Answer:
    """Answers with what was asked, as JSON; /redirect redirects, /missing is a 404."""
    if path == "/redirect":
        return Answer(302, b"", (("Location", "/elsewhere"),))
    if path == "/missing":
        return Answer(404, b'{"error": "no"}', (("Content-Type", "application/json"),))
    asked = {"method": method, "path": path, "body": body.decode(), "headers": headers}
    return Answer(200, json.dumps(asked).encode(), (("Content-Type", "application/json"),))


@pytest.fixture
def http_server() -> Iterator[Server]:
    yield from _serve(echo)


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, made with openssl."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *(
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
            ),
            *(
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def https_server(certificate: tuple[Path, Path]) -> Iterator[Server]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    yield from _serve(echo, context)
