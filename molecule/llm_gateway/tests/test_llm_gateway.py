"""The LLM gateway: authentication, streaming, TLS, credentials at rest, config and firewall."""

from __future__ import annotations

import base64
import json
import shlex
import socket
import ssl
import uuid
from typing import Any

import ollama
import pytest
from conftest import Gateway, basic, bearer, lookup_key, stored_hash

from deploykit.probes.stream_client import server_timing
from deploykit.ssh import probe_argv

# Every way of not holding the token, for each scheme; each must end in a 401 and nothing else.
BAD_CREDENTIALS = [
    pytest.param(lambda t: "", id="missing"),
    pytest.param(lambda t: basic("webui", t + "x"), id="wrong-password"),
    pytest.param(lambda t: basic("retired", t), id="removed-user"),
    pytest.param(lambda t: "Basic !!!not-base64", id="malformed-base64"),
    pytest.param(lambda t: "Basic " + base64.b64encode(t.encode()).decode(), id="no-colon"),
    pytest.param(lambda t: basic(lookup_key(t), lookup_key(t)), id="stored-key-as-password"),
    pytest.param(lambda t: basic("webui", stored_hash(t)), id="stored-hash-as-password"),
    pytest.param(lambda t: bearer(t + "x"), id="bearer-wrong-token"),
    pytest.param(lambda t: "Bearer ", id="bearer-empty"),
    pytest.param(lambda t: f"Bearer {t} {t}", id="bearer-two-words"),
    pytest.param(lambda t: f"Bearer {t}, Bearer {t}", id="bearer-twice"),
    pytest.param(lambda t: "bearer " + t[::-1], id="bearer-lower-case-wrong-token"),
    pytest.param(lambda t: bearer(lookup_key(t)), id="bearer-stored-key"),
    pytest.param(lambda t: bearer(basic("webui", t).split()[1]), id="bearer-basic-credentials"),
    # Within Apache's 8 KiB limit on a header line; beyond it the request is refused with 400.
    pytest.param(lambda t: bearer("x" * 8000), id="bearer-long"),
]


@pytest.mark.parametrize("auth", BAD_CREDENTIALS)
def test_bad_credentials_get_401_with_challenge(
    gateway: Gateway, role_vars: dict[str, Any], token: str, auth: Any
) -> None:
    """Missing, wrong, removed or malformed credentials get 401 and a Basic challenge."""
    status, headers, _ = gateway.request("/api/tags", auth=auth(token))
    assert status == 401
    assert headers["WWW-Authenticate"] == f'Basic realm="{role_vars["llm_gateway_auth_realm"]}"'


@pytest.mark.parametrize("auth", BAD_CREDENTIALS)
def test_bad_credentials_get_ollama_style_json(
    gateway: Gateway, role_vars: dict[str, Any], token: str, auth: Any
) -> None:
    """A refusal's body is Ollama's {"error": ...} JSON, not Apache's HTML page."""
    _, headers, lines = gateway.request("/api/tags", auth=auth(token))
    assert headers["Content-Type"].startswith("application/json")
    body = json.loads("".join(text for _, text in lines))
    assert body == {"error": role_vars["__llm_gateway_error_messages"][401]}


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_bearer_token_reaches_ollama(
    gateway: Gateway, role_vars: dict[str, Any], token: str, scheme: str
) -> None:
    """The token alone, as a Bearer token (scheme in any case), gets Ollama's /api/tags."""
    status, _, lines = gateway.request("/api/tags", auth=f"{scheme} {token}")
    assert status == 200
    names = {model["name"] for model in json.loads("".join(text for _, text in lines))["models"]}
    assert names == {m if ":" in m else f"{m}:latest" for m in role_vars["ollama_models"]}


@pytest.fixture(params=["headers", "OLLAMA_API_KEY"])
def ollama_client(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    gateway_url: str,
    gateway_tls: ssl.SSLContext,
    token: str,
) -> ollama.Client:
    """The official client, given the token as a header or by the variable it reads itself."""
    if request.param == "headers":
        return ollama.Client(
            host=gateway_url, headers={"Authorization": bearer(token)}, verify=gateway_tls
        )
    monkeypatch.setenv("OLLAMA_API_KEY", token)
    return ollama.Client(host=gateway_url, verify=gateway_tls)


def test_ollama_client_lists_models(
    ollama_client: ollama.Client, role_vars: dict[str, Any]
) -> None:
    """The official ollama client, with a Bearer token, lists Ollama's models via the gateway."""
    names = {model.model for model in ollama_client.list().models}
    assert names == {m if ":" in m else f"{m}:latest" for m in role_vars["ollama_models"]}


def test_ollama_client_streams_chat(
    ollama_client: ollama.Client, role_vars: dict[str, Any]
) -> None:
    """The official ollama client, with a Bearer token, streams a chat answer part by part."""
    tokens = 5
    parts = list(
        ollama_client.chat(
            model=role_vars["ollama_models"][0],
            messages=[{"role": "user", "content": f"[[sim:tokens={tokens}]] Why is it blue?"}],
            stream=True,
        )
    )
    assert len(parts) == tokens + 1
    assert all(part.message.content for part in parts[:-1])
    assert [part.done for part in parts] == [False] * tokens + [True]


def test_ollama_client_reports_refusal_as_ollama_error(
    gateway_url: str, gateway_tls: ssl.SSLContext, role_vars: dict[str, Any], token: str
) -> None:
    """A wrong token reaches the client as a ResponseError with the gateway's own text."""
    client = ollama.Client(
        host=gateway_url, headers={"Authorization": bearer(token + "x")}, verify=gateway_tls
    )
    with pytest.raises(ollama.ResponseError) as refused:
        client.list()
    assert refused.value.status_code == 401
    assert refused.value.error == role_vars["__llm_gateway_error_messages"][401]


# Requests that Apache itself refuses, before or instead of passing them to Ollama, with the
# status each must get: that status shows the case reached the refusal it is meant to test.
APACHE_ERRORS = [
    pytest.param(
        lambda t: (
            f"GET /api/tags HTTP/1.1\r\nHost: x\r\nAuthorization: {bearer('x' * 9000)}\r\n\r\n"
        ),
        True,
        400,
        id="header-line-too-long",
    ),
    pytest.param(
        lambda t: "GET /api/tags HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n",
        True,
        400,
        id="malformed-header",
    ),
    pytest.param(
        lambda t: "GET /api/tags HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        False,
        400,
        id="plain-http-on-the-tls-port",
    ),
    pytest.param(
        lambda t: (
            f"TRACE / HTTP/1.1\r\nHost: x\r\nAuthorization: {bearer(t)}\r\n"
            "Connection: close\r\n\r\n"
        ),
        True,
        405,
        id="trace",
    ),
    pytest.param(
        lambda t: f"GET /{'a' * 9000} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        True,
        414,
        id="uri-too-long",
    ),
    pytest.param(
        lambda t: (
            f"POST /api/chat HTTP/1.1\r\nHost: x\r\nAuthorization: {bearer(t)}\r\n"
            "Expect: a-miracle\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
        ),
        True,
        417,
        id="unknown-expectation",
    ),
]


@pytest.fixture(params=[pytest.param(case.values, id=case.id) for case in APACHE_ERRORS])
def apache_error(
    request: pytest.FixtureRequest, gateway: Gateway, token: str
) -> tuple[int, dict[str, str], str]:
    """Apache's answer to one of APACHE_ERRORS, which has the status it is meant to get."""
    request_text, tls, status = request.param
    got, headers, body = gateway.raw(request_text(token).encode(), tls=tls)
    assert got == status
    return status, headers, body


def test_apache_errors_are_ollama_style_json(
    apache_error: tuple[int, dict[str, str], str], role_vars: dict[str, Any]
) -> None:
    """Errors Apache makes itself carry {"error": ...} as JSON, with their own status."""
    status, headers, body = apache_error
    assert headers["Content-Type"].startswith("application/json")
    assert json.loads(body) == {"error": role_vars["__llm_gateway_error_messages"][status]}


def test_apache_errors_are_marked_as_the_gateways(
    apache_error: tuple[int, dict[str, str], str], role_vars: dict[str, Any]
) -> None:
    """Errors Apache makes itself carry the header that tells them from Ollama's own."""
    _, headers, _ = apache_error
    assert headers[role_vars["__llm_gateway_error_header"]] == "true"


@pytest.fixture(scope="module")
def unreachable_answer(
    host: Any, gateway: Gateway, role_vars: dict[str, Any], token: str
) -> tuple[int, dict[str, str], str]:
    """The gateway's answer while Ollama's service (the ollama role's unit) is stopped."""
    host.check_output("systemctl stop ollama.service")
    try:
        status, headers, lines = gateway.request("/api/tags", auth=bearer(token))
    finally:
        host.check_output("systemctl start ollama.service")
        # Until Ollama accepts connections again (the probe fails after 30 s).
        port = str(role_vars["ollama_port"])
        host.check_output(shlex.join(probe_argv("port_watch", port, "open", "30")))
    return status, headers, "".join(text for _, text in lines)


def test_unreachable_ollama_gets_json_503(
    unreachable_answer: tuple[int, dict[str, str], str], role_vars: dict[str, Any]
) -> None:
    """With Ollama down, the gateway's own 503 carries {"error": ...} as JSON."""
    status, headers, body = unreachable_answer
    assert status == 503
    assert headers["Content-Type"].startswith("application/json")
    assert json.loads(body) == {"error": role_vars["__llm_gateway_error_messages"][503]}


def test_unreachable_ollama_is_marked_as_the_gateways(
    unreachable_answer: tuple[int, dict[str, str], str], role_vars: dict[str, Any]
) -> None:
    """The gateway's 503 (no Ollama) is marked, unlike Ollama's own 503 (queue full)."""
    status, headers, _ = unreachable_answer
    assert status == 503
    assert headers[role_vars["__llm_gateway_error_header"]] == "true"


def test_ollama_errors_pass_through_unchanged(
    gateway: Gateway, role_vars: dict[str, Any], token: str
) -> None:
    """An error Ollama answers itself reaches the client as Ollama wrote it, unmarked."""
    body = json.dumps({"model": "no-such-model", "prompt": "q", "stream": False})
    request = (
        f"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {bearer(token)}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"Connection: close\r\n\r\n{body}"
    ).encode()
    direct = gateway.raw(request, port=role_vars["ollama_port"], tls=False)
    proxied = gateway.raw(request)
    assert direct[0] == 404
    assert (proxied[0], proxied[1]["Content-Type"], proxied[2]) == (
        direct[0],
        direct[1]["Content-Type"],
        direct[2],
    )
    assert role_vars["__llm_gateway_error_header"] not in proxied[1]


def test_valid_credentials_reach_ollama(
    gateway: Gateway, role_vars: dict[str, Any], token: str
) -> None:
    """The configured user gets Ollama's /api/tags through the gateway."""
    status, _, lines = gateway.request("/api/tags", auth=basic("webui", token))
    assert status == 200
    names = {model["name"] for model in json.loads("".join(text for _, text in lines))["models"]}
    assert names == {m if ":" in m else f"{m}:latest" for m in role_vars["ollama_models"]}


def test_stream_arrives_chunk_by_chunk(
    gateway: Gateway, role_vars: dict[str, Any], token: str
) -> None:
    """A streamed /api/generate reaches the client as the tokens are produced, not in one block."""
    tokens, tps = 12, 20
    body = json.dumps(
        {
            "model": role_vars["ollama_models"][0],
            "prompt": f"[[sim:tokens={tokens}]] [[sim:tps={tps}]] Why is the sky blue?",
            "stream": True,
        }
    )
    status, _, lines = gateway.request(
        "/api/generate", method="POST", body=body, auth=basic("webui", token)
    )
    assert status == 200
    assert len(lines) >= tokens
    spread = lines[-1][0] - lines[0][0]
    # Unbuffered, the lines arrive over about (tokens - 1) / tps seconds; buffered, all at once.
    assert spread >= 0.5 * (tokens - 1) / tps


@pytest.mark.parametrize("server", ["127.0.0.1", "localhost"])
def test_tls_verifies_against_role_ca(gateway: Gateway, server: str) -> None:
    """The certificate chains to the role's CA and names the address the client used."""
    status, _, _ = gateway.request("/api/version", server=server)
    assert status == 401


def test_certificate_names_private_address(host: Any, role_vars: dict[str, Any]) -> None:
    """The server certificate carries the machine's private address for the web machines."""
    cert = f"{role_vars['llm_gateway_tls_dir']}/server.crt"
    text = host.check_output(f"openssl x509 -in {cert} -noout -ext subjectAltName")
    assert f"IP Address:{role_vars['private_address']}" in text


def test_published_ca_is_a_certificate_authority(host: Any, role_vars: dict[str, Any]) -> None:
    """The CA file behind llm_gateway_ca_pem is a CA, not the server's own certificate."""
    cert = f"{role_vars['llm_gateway_tls_dir']}/ca.crt"
    text = host.check_output(f"openssl x509 -in {cert} -noout -ext basicConstraints")
    assert "CA:TRUE" in text


@pytest.mark.parametrize(
    ("name", "mode"),
    [("ca.key", 0o600), ("server.key", 0o600)],
)
def test_private_keys_are_root_only(
    host: Any, role_vars: dict[str, Any], name: str, mode: int
) -> None:
    """The CA and server keys are readable by root alone."""
    key = host.file(f"{role_vars['llm_gateway_tls_dir']}/{name}")
    assert (key.user, key.group, key.mode) == ("root", "root", mode)


def test_credentials_db_has_tight_mode(host: Any, role_vars: dict[str, Any]) -> None:
    """The credentials database is root's, readable by Apache's group, closed to others."""
    db = host.file(role_vars["llm_gateway_credentials_db"])
    assert (db.user, db.group, db.mode) == ("root", "www-data", 0o640)


def test_credentials_db_holds_no_plaintext_token(
    host: Any, role_vars: dict[str, Any], token: str
) -> None:
    """The token itself appears nowhere in the database file."""
    raw = host.check_output(f"base64 -w0 {role_vars['llm_gateway_credentials_db']}")
    assert token.encode() not in base64.b64decode(raw)


@pytest.fixture(scope="module")
def stored_hashes(host: Any, role_vars: dict[str, Any]) -> dict[str, str]:
    """Each user's password_hash, as the credentials table holds it after the converge."""
    query = "SELECT username, password_hash FROM credentials"
    probe = probe_argv("sqlite_query", role_vars["llm_gateway_credentials_db"], query)
    return dict(json.loads(host.check_output(shlex.join(probe))))


def test_credentials_db_holds_exactly_configured_users(stored_hashes: dict[str, str]) -> None:
    """Only listed users remain: the seeded user no longer listed is gone."""
    assert set(stored_hashes) == {"webui"}


def test_credentials_db_holds_tokens_sha_hash(stored_hashes: dict[str, str], token: str) -> None:
    """The token's hash is APR's {SHA} form: the seeded bcrypt hash was rewritten."""
    assert stored_hashes["webui"] == stored_hash(token), (
        f"webui's password_hash starts {stored_hashes['webui'][:5]!r}: "
        "not the {SHA} hash of the token (a bcrypt row left from before the migration?)"
    )


def test_apache_config_validates(host: Any) -> None:
    """apache2ctl -t accepts the whole configuration."""
    assert host.run("apache2ctl -t").rc == 0


@pytest.mark.parametrize("module", ["autoindex", "deflate", "status", "authn_file"])
def test_unneeded_modules_are_disabled(host: Any, module: str) -> None:
    """Listing, compression, status and file auth modules are not loaded."""
    assert f" {module}_module " not in host.check_output("apache2ctl -M") + "\n"


def test_worker_pool_holds_more_than_ollama(host: Any, role_vars: dict[str, Any]) -> None:
    """Every worker thread the role sizes for runs in one child before the first stream arrives."""
    wanted = int(role_vars["llm_gateway_max_workers"])
    # Children are the apache2 processes whose parent is also apache2; each runs its workers plus
    # a listener thread and its main thread.
    rows = host.check_output("ps -C apache2 -o pid=,ppid=,nlwp=").splitlines()
    pids = {row.split()[0] for row in rows}
    workers = [int(n) - 2 for _, ppid, n in (row.split() for row in rows) if ppid in pids]
    assert workers == [wanted], f"worker threads per child: {workers}, for {wanted} requests"


def test_server_header_names_no_version(gateway: Gateway) -> None:
    """The Server header gives the product only (ServerTokens Prod)."""
    _, headers, _ = gateway.request("/api/tags")
    assert headers["Server"] == "Apache"


def test_listens_on_configured_address(host: Any, role_vars: dict[str, Any]) -> None:
    """Apache listens on the gateway port, and on no other TCP port."""
    apache_ports = host.check_output("ss -Htlnp | grep -F apache2 | awk '{print $4}'").split()
    assert apache_ports == [
        f"{role_vars['llm_gateway_listen_address']}:{role_vars['llm_gateway_port']}"
    ]


def test_access_log_holds_no_credentials(host: Any, gateway: Gateway, token: str) -> None:
    """After authenticated requests, neither the token nor its Basic encoding is in the logs."""
    header = basic("webui", token)
    gateway.request("/api/version", auth=header)
    logs = host.check_output("cat /var/log/apache2/*.log")
    assert token not in logs
    assert header.split()[1] not in logs


@pytest.mark.parametrize(
    "sent",
    [
        pytest.param("{token}", id="accepted"),
        pytest.param("{token}x", id="refused"),
        pytest.param("{token} x", id="malformed"),
    ],
)
def test_logs_hold_no_bearer_token(host: Any, gateway: Gateway, token: str, sent: str) -> None:
    """What a Bearer request writes to the logs holds neither the token nor its Basic form."""
    value = sent.format(token=token)
    logs = host.check_output("ls /var/log/apache2/*.log").split()
    sizes = {path: host.file(path).size for path in logs}
    gateway.request("/api/version", auth=bearer(value))
    written = "".join(host.check_output(f"tail -c +{sizes[p] + 1} {p}") for p in logs)
    assert token not in written
    assert base64.b64encode(f"{lookup_key(value)}:{value}".encode()).decode() not in written


@pytest.mark.parametrize(
    "auth",
    [pytest.param(lambda t: basic("webui", t), id="basic"), pytest.param(bearer, id="bearer")],
)
def test_access_log_names_the_user(host: Any, gateway: Gateway, token: str, auth: Any) -> None:
    """An accepted request is logged under the table's user name, for Bearer tokens as well."""
    marker = uuid.uuid4().hex
    status, _, _ = gateway.request(f"/api/version?probe={marker}", auth=auth(token))
    assert status == 200
    log = host.check_output(f"grep -F {marker} /var/log/apache2/llm-gateway-access.log")
    assert log.split()[1] == "webui"


def test_firewall_admits_only_configured_sources(host: Any, role_vars: dict[str, Any]) -> None:
    """The only input rules for the gateway port accept exactly the configured sources."""
    ruleset = json.loads(host.check_output("nft -j list chain inet filter input"))
    port = role_vars["llm_gateway_port"]
    sources: set[str] = set()
    for entry in ruleset["nftables"]:
        matches = [e["match"] for e in entry.get("rule", {}).get("expr", []) if "match" in e]
        if not any(m["right"] == port for m in matches):
            continue
        assert any("accept" in e for e in entry["rule"]["expr"])
        saddr = [
            m["right"] for m in matches if m["left"].get("payload", {}).get("field") == "saddr"
        ]
        assert saddr, "a rule opens the gateway port to every source"
        for right in saddr:
            sources |= {
                _address(e)
                for e in (right["set"] if isinstance(right, dict) and "set" in right else [right])
            }
    assert sources == set(role_vars["llm_gateway_allowed_sources"])


def _address(element: Any) -> str:
    """Render an nft JSON address or prefix as the inventory writes it."""
    if isinstance(element, dict) and "prefix" in element:
        return f"{element['prefix']['addr']}/{element['prefix']['len']}"
    return str(element)


def test_gateway_port_drops_unlisted_source(host: Any, role_vars: dict[str, Any]) -> None:
    """A connection from outside the allowed sources (the Molecule controller) gets nowhere."""
    address = host.interface("eth0").addresses[0]
    with (
        pytest.raises(OSError),
        socket.create_connection((address, role_vars["llm_gateway_port"]), timeout=3),
    ):
        pass


def test_answers_say_how_long_authentication_and_ollama_took(gateway: Gateway, token: str) -> None:
    """The web app passes these on to the page: authentication within the whole wait for Ollama."""
    status, headers, _ = gateway.request("/api/tags", auth=basic("webui", token))
    assert status == 200
    timing = server_timing(headers["Server-Timing"])
    assert set(timing) == {"gateway-auth", "gateway"}, headers["Server-Timing"]
    assert 0 <= timing["gateway-auth"] <= timing["gateway"], headers["Server-Timing"]


def test_a_refusal_says_no_authentication_time(gateway: Gateway) -> None:
    """A request refused before authentication ended has only the gateway's whole time."""
    status, headers, _ = gateway.request("/api/tags", auth=basic("webui", "wrong" * 8))
    assert status == 401
    assert set(server_timing(headers["Server-Timing"])) == {"gateway"}, headers["Server-Timing"]
