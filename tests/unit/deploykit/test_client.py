"""deploykit.client.SiteClient: the site's name in Host and SNI, the session cookie by hand."""

import ssl
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from deploykit.client import SESSION_COOKIE, AssetLinks, LoginError, SiteClient


def client_with(
    handler: Callable[[httpx.Request], httpx.Response], **options: object
) -> SiteClient:
    """A SiteClient whose requests go to ``handler`` instead of the network."""
    values = {"host": "qa.example", "origin": "https://qa.example", "context": None, **options}
    client = SiteClient("192.0.2.1", 443, **values)
    client._http = httpx.Client(
        base_url=client._http.base_url, transport=httpx.MockTransport(handler)
    )
    return client


def test_requests_carry_the_sites_name_and_sni() -> None:
    """Host is the site's name (not the address); over TLS the SNI is that name too."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    tls = client_with(handler, context=ssl.create_default_context())
    tls.request("GET", "/healthz")
    assert seen[0].headers["Host"] == "qa.example"
    assert seen[0].url.host == "192.0.2.1"
    assert seen[0].extensions["sni_hostname"] == "qa.example"
    plain = client_with(handler)
    plain.request("GET", "/healthz")
    assert "sni_hostname" not in seen[1].extensions


def test_server_name_can_differ_from_the_host() -> None:
    """A web machine's certificate is checked under its own name, the site's name in Host."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    client = client_with(handler, context=ssl.create_default_context(), server_name="web1")
    client.request("GET", "/")
    assert (seen[0].headers["Host"], seen[0].extensions["sni_hostname"]) == ("qa.example", "web1")


def test_login_keeps_the_session_cookie_and_sends_it_after() -> None:
    """A 303 with the session cookie logs in; later requests carry it; a given Cookie wins."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/login":
            headers = {"Set-Cookie": f"{SESSION_COOKIE}=abc; Path=/; Secure; HttpOnly"}
            return httpx.Response(303, headers=headers)
        return httpx.Response(200)

    client = client_with(handler, username="admin", password="secret")
    assert client.login() == f"{SESSION_COOKIE}=abc"
    login = seen[0]
    assert login.headers["Origin"] == "https://qa.example"
    assert login.content == b"username=admin&password=secret"
    client.request("GET", "/api/models")
    assert seen[1].headers["Cookie"] == f"{SESSION_COOKIE}=abc"
    client.request("GET", "/api/models", headers={"Cookie": "other=1"})
    assert seen[2].headers["Cookie"] == "other=1"


@pytest.mark.parametrize(
    "response",
    [httpx.Response(401, text="wrong password"), httpx.Response(303)],
    ids=["refused", "no-cookie"],
)
def test_failed_login_raises(response: httpx.Response) -> None:
    """Anything but a 303 with the session cookie is a LoginError naming the status."""
    client = client_with(lambda request: response)
    with pytest.raises(LoginError, match=f"HTTP {response.status_code}"):
        client.login("admin", "wrong")
    assert client.cookie == ""


def test_asset_links_are_the_same_origin_assets_a_browser_loads() -> None:
    """Scripts, images and linked styles/icons on this origin, once each, in page order."""
    parser = AssetLinks()
    parser.feed(
        '<link rel="stylesheet" href="/static/a.css"><link rel="canonical" href="/x">'
        '<script src="/static/app.js"></script><img src="//cdn.example/i.png">'
        '<img src="https://cdn.example/j.png"><script src="/static/app.js"></script>'
        '<link rel="icon" href="/static/icon.svg">'
    )
    assert parser.paths == ["/static/a.css", "/static/app.js", "/static/icon.svg"]


def test_plain_http_client_talks_to_a_real_server(http_server, tmp_path: Path) -> None:
    """Without a TLS context the client speaks plain HTTP to the address and port."""
    with SiteClient(
        "127.0.0.1", http_server.port, host="site.test", origin="http://site.test", context=None
    ) as client:
        assert client.request("GET", "/hello").json()["path"] == "/hello"
    assert http_server.received[0]["headers"]["Host"] == "site.test"
