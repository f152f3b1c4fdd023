"""HSTS on every response, and the page's security headers on every HTML response.

The sample covers what each layer produces: HAProxy's own redirect and error, the app's pages,
redirects, JSON answers and errors, Apache's own errors, and static files. A layer that drops or
forgets a header (an Apache error page, a HAProxy-generated response) shows up as the case that
fails. Errors that HAProxy and Apache make themselves are JSON in the app's error format, so that
the page can show their message.

One answer is outside what configuration reaches: a request HAProxy cannot parse is refused by
its HTTP/1 parser before any rule runs, and HAProxy before 3.2 sends its built-in 400 page there,
without HSTS (haproxy/haproxy#3032; Debian 12 ships 2.6). No browser sends such a request, and
HSTS only matters to browsers; test_unparseable_request_is_refused_before_any_server pins it.
"""

import re
import socket
from collections.abc import Callable

import pytest

from deploykit.client import AssetLinks
from webui.app import SECURITY_HEADERS


def _headers(raw: bytes) -> dict[str, str]:
    head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")[1:]
    return {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head)}


def _first_static_asset(site) -> str:
    parser = AssetLinks()
    parser.feed(site.request("GET", "/login").text)
    assert parser.paths, "the login page loads no static asset"
    return parser.paths[0]


def _plain(path: str) -> Callable:
    def call(site, topology) -> tuple[int, dict[str, str]]:
        port = int(topology.var(topology.lb, "haproxy_http_port"))
        with socket.create_connection((topology.lb.ansible_host, port), timeout=10) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {topology.hostname}\r\n\r\n".encode())
            raw = sock.recv(65536)
        return int(raw.split(b" ", 2)[1]), _headers(raw)

    return call


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
    "http-redirect": _plain("/login"),
    # certbot listens only while it renews, so HAProxy answers this itself: 503, no server.
    "haproxy-no-server": _plain("/.well-known/acme-challenge/no-such-token"),
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
    "apache-error-document": _https("GET", "/server-errors/403.json"),
    # A header line over Apache's limit (8 KiB) but under HAProxy's buffer: Apache refuses it.
    "apache-bad-request": _https("GET", "/login", headers={"X-Padding": "a" * 9000}),
}


# The sample's HTML answers: the app's pages. Every other answer is JSON, CSS, JS or a redirect.
HTML_CASES = {"login-page", "page-logged-in"}

# What each layer answers with, by case: its own errors are the app's JSON error format.
JSON_ERRORS = {
    "haproxy-no-server": 503,
    "api-too-large": 413,
    "apache-error-document": 403,
    "apache-bad-request": 400,
}


@pytest.fixture(scope="module")
def answers(site, topology) -> dict[str, tuple[int, dict[str, str]]]:
    return {name: call(site, topology) for name, call in SAMPLE.items()}


@pytest.mark.parametrize("case", list(SAMPLE))
def test_hsts_on_every_response(answers, topology, case: str) -> None:
    """Strict-Transport-Security, with the configured max-age, on every kind of response."""
    status, headers = answers[case]
    assert status, f"{case}: no response"
    hsts = headers.get("strict-transport-security", "")
    match = re.search(r"max-age=(\d+)", hsts)
    assert match, f"{case} (HTTP {status}) has no HSTS header"
    max_age = int(topology.var(topology.lb, "haproxy_hsts_max_age"))
    assert int(match.group(1)) == max_age, f"{case}: HSTS {hsts!r}, want max-age={max_age}"


def test_plain_http_redirects_permanently_to_https(answers, topology) -> None:
    """Plain HTTP gets a permanent redirect to the same path over HTTPS: a temporary one (302)
    is not cached, so every visit starts again in clear text."""
    status, headers = answers["http-redirect"]
    location = headers.get("location", "")
    assert status in (301, 308), f"plain HTTP answers {status} to {location!r}, want 301 or 308"
    assert location == f"https://{topology.hostname}/login", f"redirected to {location!r}"


def _csp(value: str) -> dict[str, set[str]]:
    directives = (part.split() for part in value.split(";") if part.strip())
    return {d[0].lower(): set(d[1:]) for d in directives}


def test_html_is_only_where_expected(answers) -> None:
    """The pages are the only HTML: anything else that turned into HTML would need the headers."""
    html = {
        case
        for case, (_, headers) in answers.items()
        if headers.get("content-type", "").startswith("text/html")
    }
    assert html == HTML_CASES


@pytest.mark.parametrize("case", sorted(HTML_CASES))
def test_security_headers_on_every_html_response(answers, case: str) -> None:
    """Every HTML response carries the app's CSP and the other headers, unweakened."""
    status, headers = answers[case]
    for name, value in SECURITY_HEADERS:
        assert headers.get(name.lower()) == value, f"{case} (HTTP {status}): {name} missing"
    csp = _csp(headers["content-security-policy"])
    # Independent of the app's constant, so a weakened constant is caught too.
    assert csp["default-src"] == {"'self'"}
    assert not {"'unsafe-inline'", "'unsafe-eval'", "*"} & csp["script-src"]
    assert csp["frame-ancestors"] == {"'none'"}
    assert csp["base-uri"] == {"'none'"}
    assert headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("case", list(JSON_ERRORS))
def test_errors_of_every_layer_are_json_for_the_page(answers, case: str) -> None:
    """HAProxy's and Apache's own errors have the status and the app's JSON error format."""
    status, headers = answers[case]
    assert status == JSON_ERRORS[case], f"{case}: HTTP {status}"
    assert headers.get("content-type", "").startswith("application/json"), headers


def test_unparseable_request_is_refused_before_any_server(site) -> None:
    """A request with a header line that is not a header gets HAProxy's parser 400 and a close.

    The one answer without HSTS (see the module's docstring): this checks that it stays the
    parser's own refusal, which never reaches a web machine, and not something the chain made.
    """
    status, headers = _raw(b"GET / HTTP/1.1\r\nHost: {host}\r\nBad Header\r\n\r\n")(site, None)
    assert status == 400
    assert headers.get("connection") == "close"
    # Apache (every web machine) names itself in Server; HAProxy's own answers carry none.
    assert "server" not in headers, "the malformed request reached a web machine"
