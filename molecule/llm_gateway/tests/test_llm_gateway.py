"""The LLM gateway: authentication, streaming, TLS, credentials at rest, config and firewall."""

from __future__ import annotations

import base64
import json
import shlex
import socket
from typing import Any

import pytest
from conftest import Gateway, basic


@pytest.mark.parametrize(
    "auth",
    [
        pytest.param(lambda t: "", id="missing"),
        pytest.param(lambda t: basic("webui", t + "x"), id="wrong-password"),
        pytest.param(lambda t: basic("retired", t), id="removed-user"),
        pytest.param(lambda t: "Basic !!!not-base64", id="malformed-base64"),
        pytest.param(lambda t: "Basic " + base64.b64encode(t.encode()).decode(), id="no-colon"),
        pytest.param(lambda t: "Bearer " + t, id="bearer-not-supported"),
    ],
)
def test_bad_credentials_get_401_with_challenge(
    gateway: Gateway, gateway_vars: dict[str, Any], token: str, auth: Any
) -> None:
    """Missing, wrong, removed or malformed credentials get 401 and a Basic challenge."""
    status, headers, _ = gateway.request("/api/tags", auth=auth(token))
    assert status == 401
    assert headers["WWW-Authenticate"] == f'Basic realm="{gateway_vars["llm_gateway_auth_realm"]}"'


def test_valid_credentials_reach_ollama(
    gateway: Gateway, ollama_vars: dict[str, Any], token: str
) -> None:
    """The configured user gets Ollama's /api/tags through the gateway."""
    status, _, lines = gateway.request("/api/tags", auth=basic("webui", token))
    assert status == 200
    names = {model["name"] for model in json.loads("".join(text for _, text in lines))["models"]}
    assert names == {m if ":" in m else f"{m}:latest" for m in ollama_vars["ollama_models"]}


def test_stream_arrives_chunk_by_chunk(
    gateway: Gateway, ollama_vars: dict[str, Any], token: str
) -> None:
    """A streamed /api/generate reaches the client as the tokens are produced, not in one block."""
    tokens, tps = 12, 20
    body = json.dumps(
        {
            "model": ollama_vars["ollama_models"][0],
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


def test_certificate_names_private_address(host: Any, gateway_vars: dict[str, Any]) -> None:
    """The server certificate carries the machine's private address for the web machines."""
    cert = f"{gateway_vars['llm_gateway_tls_dir']}/server.crt"
    text = host.check_output(f"openssl x509 -in {cert} -noout -ext subjectAltName")
    assert f"IP Address:{host.ansible.get_variables()['private_address']}" in text


def test_published_ca_is_a_certificate_authority(host: Any, gateway_vars: dict[str, Any]) -> None:
    """The CA file behind llm_gateway_ca_pem is a CA, not the server's own certificate."""
    cert = f"{gateway_vars['llm_gateway_tls_dir']}/ca.crt"
    text = host.check_output(f"openssl x509 -in {cert} -noout -ext basicConstraints")
    assert "CA:TRUE" in text


@pytest.mark.parametrize(
    ("name", "mode"),
    [("ca.key", 0o600), ("server.key", 0o600)],
)
def test_private_keys_are_root_only(
    host: Any, gateway_vars: dict[str, Any], name: str, mode: int
) -> None:
    """The CA and server keys are readable by root alone."""
    key = host.file(f"{gateway_vars['llm_gateway_tls_dir']}/{name}")
    assert (key.user, key.group, key.mode) == ("root", "root", mode)


def test_credentials_db_has_tight_mode(host: Any, gateway_vars: dict[str, Any]) -> None:
    """The credentials database is root's, readable by Apache's group, closed to others."""
    db = host.file(gateway_vars["llm_gateway_credentials_db"])
    assert (db.user, db.group, db.mode) == ("root", "www-data", 0o640)


def test_credentials_db_holds_no_plaintext_token(
    host: Any, gateway_vars: dict[str, Any], token: str
) -> None:
    """The token itself appears nowhere in the database file."""
    raw = host.check_output(f"base64 -w0 {gateway_vars['llm_gateway_credentials_db']}")
    assert token.encode() not in base64.b64decode(raw)


def test_credentials_db_holds_exactly_configured_users_as_bcrypt(
    host: Any, gateway_vars: dict[str, Any]
) -> None:
    """Only listed users remain (the seeded one is gone), each with a bcrypt hash Apache reads."""
    script = (
        "import json, sqlite3, sys\n"
        "db = sqlite3.connect(sys.argv[1])\n"
        "rows = db.execute('SELECT username, password_hash FROM credentials')\n"
        "print(json.dumps(rows.fetchall()))\n"
    )
    db = gateway_vars["llm_gateway_credentials_db"]
    users = dict(
        json.loads(host.check_output(f"python3 -c {shlex.quote(script)} {shlex.quote(db)}"))
    )
    assert set(users) == {"webui"}
    assert all(h.startswith("$2y$") for h in users.values())


def test_apache_config_validates(host: Any) -> None:
    """apache2ctl -t accepts the whole configuration."""
    assert host.run("apache2ctl -t").rc == 0


@pytest.mark.parametrize("module", ["autoindex", "deflate", "status", "authn_file"])
def test_unneeded_modules_are_disabled(host: Any, module: str) -> None:
    """Listing, compression, status and file auth modules are not loaded."""
    assert f" {module}_module " not in host.check_output("apache2ctl -M") + "\n"


def test_worker_pool_holds_more_than_ollama(host: Any, gateway_vars: dict[str, Any]) -> None:
    """Every worker thread the role sizes for runs in one child before the first stream arrives."""
    wanted = int(gateway_vars["llm_gateway_max_workers"])
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


def test_listens_on_configured_address(host: Any, gateway_vars: dict[str, Any]) -> None:
    """Apache listens on the gateway port, and on no other TCP port."""
    apache_ports = host.check_output("ss -Htlnp | grep -F apache2 | awk '{print $4}'").split()
    assert apache_ports == [
        f"{gateway_vars['llm_gateway_listen_address']}:{gateway_vars['llm_gateway_port']}"
    ]


def test_access_log_holds_no_credentials(host: Any, gateway: Gateway, token: str) -> None:
    """After authenticated requests, neither the token nor its Basic encoding is in the logs."""
    header = basic("webui", token)
    gateway.request("/api/version", auth=header)
    logs = host.check_output("cat /var/log/apache2/*.log")
    assert token not in logs
    assert header.split()[1] not in logs


def test_firewall_admits_only_configured_sources(host: Any, gateway_vars: dict[str, Any]) -> None:
    """The only input rules for the gateway port accept exactly the configured sources."""
    ruleset = json.loads(host.check_output("nft -j list chain inet filter input"))
    port = gateway_vars["llm_gateway_port"]
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
    assert sources == set(gateway_vars["llm_gateway_allowed_sources"])


def _address(element: Any) -> str:
    """Render an nft JSON address or prefix as the inventory writes it."""
    if isinstance(element, dict) and "prefix" in element:
        return f"{element['prefix']['addr']}/{element['prefix']['len']}"
    return str(element)


def test_gateway_port_drops_unlisted_source(host: Any, gateway_vars: dict[str, Any]) -> None:
    """A connection from outside the allowed sources (the Molecule controller) gets nowhere."""
    address = host.interface("eth0").addresses[0]
    with (
        pytest.raises(OSError),
        socket.create_connection((address, gateway_vars["llm_gateway_port"]), timeout=3),
    ):
        pass
