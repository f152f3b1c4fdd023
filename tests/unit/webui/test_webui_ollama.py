"""The Ollama client: credentials, TLS verification, timeouts, and secrets kept out of logs."""

import logging
import ssl
from dataclasses import replace

import certifi
import httpx
import pytest

from webui.ollama import OllamaClient
from webui.settings import Settings

TOKEN = "tok-0123456789-secret"
PASSWORD = "gw-password-secret"


def client_for(
    seen: list[httpx.Request], base_url: str = "http://127.0.0.1:11434", **overrides
) -> OllamaClient:
    settings = replace(Settings(require_login=False), **overrides)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"version": "1", "models": [{"name": "m"}]})

    return OllamaClient(base_url, settings, httpx.MockTransport(handle))


def test_a_bearer_token_is_sent():
    seen: list[httpx.Request] = []
    client_for(seen, ollama_token=TOKEN).version()
    assert seen[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_basic_credentials_are_sent():
    seen: list[httpx.Request] = []
    client_for(seen, ollama_username="webui", ollama_password=PASSWORD).model_names()
    expected = httpx.BasicAuth("webui", PASSWORD)._auth_header
    assert seen[0].headers["authorization"] == expected


def test_no_credentials_means_no_authorization_header():
    seen: list[httpx.Request] = []
    client_for(seen).version()
    assert "authorization" not in seen[0].headers


def test_the_base_url_is_used():
    seen: list[httpx.Request] = []
    client_for(seen, "https://gw.internal:8443").version()
    assert str(seen[0].url) == "https://gw.internal:8443/api/version"


def test_connect_and_read_timeouts_are_separate():
    client = client_for([], connect_timeout=3.0, read_timeout=90.0)
    timeout = client._http.timeout
    assert (timeout.connect, timeout.read) == (3.0, 90.0)


def test_the_ca_bundle_replaces_the_system_store(monkeypatch):
    calls = []
    real = ssl.create_default_context

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", spy)
    settings = replace(Settings(require_login=False), ollama_ca_bundle=certifi.where())
    context = OllamaClient("https://gw.internal:8443", settings)
    assert calls == [{"cafile": certifi.where()}]
    assert context._http is not None


def test_verification_stays_on():
    client = OllamaClient("https://gw.internal:8443", Settings(require_login=False))
    transport = client._http._transport
    context = transport._pool._ssl_context
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True


def test_secrets_are_not_in_repr_or_debug_logs(caplog):
    caplog.set_level(logging.DEBUG)
    seen: list[httpx.Request] = []
    client = client_for(seen, ollama_token=TOKEN)
    client.version()
    basic = client_for(seen, ollama_username="webui", ollama_password=PASSWORD)
    basic.version()
    text = caplog.text + repr(client) + repr(basic)
    assert caplog.records, "httpx logs nothing at DEBUG: this test would prove nothing"
    assert TOKEN not in text
    assert PASSWORD not in text


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"])
def test_proxy_variables_are_ignored(monkeypatch, variable):
    monkeypatch.setenv(variable, "http://127.0.0.1:9")
    client = OllamaClient("https://gw.internal:8443", Settings(require_login=False))
    assert client._http._mounts == {}
