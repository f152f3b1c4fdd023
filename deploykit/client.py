"""The HTTP(S) client with login that every suite against the site uses.

Requests go to an address (HAProxy's, a tunnel's, or the app's on loopback) and carry the
site's name where TLS and HTTP expect it (SNI, Host), because the public name need not resolve
on this machine (it does not for the local topology). The session cookie is kept by hand: a jar
would file it under the address, and it is the only cookie the app sets.
"""

from __future__ import annotations

import contextlib
import ssl
from html.parser import HTMLParser
from typing import Any

import httpx

# Mirrors webui.auth.SESSION_COOKIE (a unit test checks they are equal); the kit does not import
# the app, which the environments that test a deployment do not install.
SESSION_COOKIE = "__Host-webui_session"


class LoginError(RuntimeError):
    """The site did not accept a login; the message has its answer."""


class SiteClient:
    """httpx to ``address:port``, speaking for ``host`` (Host header, SNI and verification).

    ``context`` None means plain HTTP (the app on loopback); otherwise the certificate is
    checked with it under ``server_name`` (by default the host's name), never unchecked.
    """

    def __init__(
        self,
        address: str,
        port: int,
        *,
        host: str,
        origin: str,
        context: ssl.SSLContext | None,
        server_name: str | None = None,
        headers: dict[str, str] | None = None,
        username: str = "",
        password: str = "",
    ) -> None:
        self.address, self.port, self.context = address, port, context
        # The site as its users name it (Host, Origin); TLS checks the name without a port.
        self.host, self.origin = host, origin
        self.server_name = server_name or host.rsplit(":", 1)[0]
        self.headers = {"Host": host, **(headers or {})}
        # Whom login() logs in by default, and the session cookie once it has.
        self.username, self.password, self.cookie = username, password, ""
        scheme = "https" if context else "http"
        self._http = httpx.Client(
            base_url=f"{scheme}://{address}:{port}", verify=context or False, timeout=30
        )

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request with the session cookie, if logged in; redirects are not followed."""
        return self._http.request(method, path, **self._arguments(kwargs, self.cookie))

    def stream(
        self, method: str, path: str, **kwargs: Any
    ) -> contextlib.AbstractContextManager[httpx.Response]:
        """Like ``request``, with the body left to read as it arrives."""
        return self._http.stream(method, path, **self._arguments(kwargs, self.cookie))

    def _arguments(self, kwargs: dict[str, Any], cookie: str) -> dict[str, Any]:
        """httpx's arguments: the site's name (Host, SNI) and ``cookie``, unless one is given."""
        headers = {**self.headers, **kwargs.pop("headers", {})}
        if cookie and "Cookie" not in headers:
            headers["Cookie"] = cookie
        extensions = {"sni_hostname": self.server_name} if self.context else {}
        return {"headers": headers, "extensions": extensions, **kwargs}

    def login(self, username: str | None = None, password: str | None = None) -> str:
        """Log in (by default with the client's credentials); returns the Cookie header value."""
        response = self.request(
            "POST",
            "/login",
            data={"username": username or self.username, "password": password or self.password},
            headers={"Origin": self.origin},
        )
        cookie = response.cookies.get(SESSION_COOKIE)
        if response.status_code != 303 or not cookie:
            raise LoginError(f"login failed: HTTP {response.status_code} {response.text[:200]}")
        self.cookie = f"{SESSION_COOKIE}={cookie}"
        return self.cookie

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SiteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AssetLinks(HTMLParser):
    """Collects the same-origin assets a browser fetches to render the page."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        url = values.get("src") if tag in ("script", "img") else None
        if tag == "link" and values.get("rel") in ("stylesheet", "icon", "preload", "manifest"):
            url = values.get("href")
        if url and url.startswith("/") and not url.startswith("//") and url not in self.paths:
            self.paths.append(url)
