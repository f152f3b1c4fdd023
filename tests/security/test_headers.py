"""HSTS on every response, and the page's security headers on every HTML response.

The sample covers what each layer produces: HAProxy's own redirect and error, the app's pages,
redirects, JSON answers and errors, and static files. A layer that drops or forgets a header
(an Apache error page, a HAProxy-generated response) shows up as the case that fails.
"""

import re
import socket
from collections.abc import Callable

import pytest

from bench.baseline import AssetLinks
from bench.topology import role_default
from webui.app import SECURITY_HEADERS

HSTS_MAX_AGE = int(role_default("haproxy", "haproxy_hsts_max_age"))


def _headers(raw: bytes) -> dict[str, str]:
    head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")[1:]
    return {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head)}


def _first_static_asset(site) -> str:
    parser = AssetLinks()
    parser.feed(site.request("GET", "/login").text)
    assert parser.paths, "the login page loads no static asset"
    return parser.paths[0]


def _plain_http(topology, path: str) -> tuple[int, dict[str, str]]:
    port = int(role_default("haproxy", "haproxy_http_port"))
    with socket.create_connection((topology.lb.ansible_host, port), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {topology.hostname}\r\n\r\n".encode())
        raw = sock.recv(65536)
    return int(raw.split(b" ", 2)[1]), _headers(raw)


def _https(method: str, path: str, **kwargs) -> Callable:
    def call(site, topology) -> tuple[int, dict[str, str]]:
        target = _first_static_asset(site) if path == "{asset}" else path
        headers = {
            k: v.replace("{origin}", site.origin) for k, v in kwargs.get("headers", {}).items()
        }
        response = site.request(method, target, **{**kwargs, "headers": headers})
        return response.status_code, {k.lower(): v for k, v in response.headers.items()}

    return call


def _raw(request: bytes) -> Callable:
    def call(site, topology) -> tuple[int, dict[str, str]]:
        status, raw = site.raw(request.replace(b"{host}", site.host.encode()))
        return status, _headers(raw)

    return call


SAMPLE = {
    "http-redirect": lambda site, topology: _plain_http(topology, "/login"),
    "page-redirect-to-login": _https("GET", "/"),
    "login-page": _https("GET", "/login"),
    "page-logged-in": _https("GET", "/", logged_in=True),
    "static-asset": _https("GET", "{asset}"),
    "static-missing": _https("GET", "/static/no-such-file.css"),
    "healthz": _https("GET", "/healthz"),
    "api-models": _https("GET", "/api/models", logged_in=True),
    "api-unauthenticated": _https("POST", "/api/ask", json={"question": "hi"}),
    "api-method-not-allowed": _https("GET", "/api/ask"),
    "api-not-found": _https("GET", "/api/nothing-here"),
    "api-too-large": _https(
        "POST",
        "/api/ask",
        logged_in=True,
        content=b"x" * 1_100_000,
        headers={"Content-Type": "application/json", "Origin": "{origin}"},
    ),
    "haproxy-bad-request": _raw(b"GET / HTTP/1.1\r\nHost: {host}\r\nBad Header\r\n\r\n"),
}


@pytest.fixture(scope="module")
def answers(site, topology) -> dict[str, tuple[int, dict[str, str]]]:
    return {name: call(site, topology) for name, call in SAMPLE.items()}


@pytest.mark.parametrize("case", list(SAMPLE))
def test_hsts_on_every_response(answers, case: str) -> None:
    """Strict-Transport-Security, with the configured max-age, on every kind of response."""
    status, headers = answers[case]
    assert status, f"{case}: no response"
    hsts = headers.get("strict-transport-security", "")
    match = re.search(r"max-age=(\d+)", hsts)
    assert match, f"{case} (HTTP {status}) has no HSTS header"
    assert int(match.group(1)) == HSTS_MAX_AGE, f"{case}: {hsts}"


def _csp(value: str) -> dict[str, set[str]]:
    directives = (part.split() for part in value.split(";") if part.strip())
    return {d[0].lower(): set(d[1:]) for d in directives}


@pytest.mark.parametrize("case", list(SAMPLE))
def test_security_headers_on_every_html_response(answers, case: str) -> None:
    """Every HTML response carries the app's CSP and the other headers, unweakened."""
    status, headers = answers[case]
    if not headers.get("content-type", "").startswith("text/html"):
        pytest.skip(f"{case} is not HTML ({headers.get('content-type')})")
    for name, value in SECURITY_HEADERS:
        assert headers.get(name.lower()) == value, f"{case} (HTTP {status}): {name} missing"
    csp = _csp(headers["content-security-policy"])
    # Independent of the app's constant, so a weakened constant is caught too.
    assert csp["default-src"] == {"'self'"}
    assert not {"'unsafe-inline'", "'unsafe-eval'", "*"} & csp["script-src"]
    assert csp["frame-ancestors"] == {"'none'"}
    assert csp["base-uri"] == {"'none'"}
    assert headers["x-content-type-options"] == "nosniff"
