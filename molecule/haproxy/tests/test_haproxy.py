"""HAProxy in front of two fake web machines: TLS, redirects, HSTS, balancing and headers."""

import json
import os
from pathlib import Path

import pytest
from conftest import backend_port, wait_for_status

from deploykit.variables import scenario

PROFILE_CIPHERS = scenario().any("haproxy_ssl_ciphers").split(":")
# TLS 1.2 suites OpenSSL offers by default that Mozilla's intermediate profile leaves out.
# (ECDSA ones: the bootstrap key is ECDSA, so RSA suites would be refused whatever the list.)
OUTSIDE_CIPHERS = [
    "ECDHE-ECDSA-AES128-SHA",
    "ECDHE-ECDSA-AES256-SHA384",
    "ECDHE-ECDSA-AES128-SHA256",
]


@pytest.fixture
def backends_state(request, admin, role_vars, backends_up):
    """Put every web server in the given state for one test, then back to ready."""
    names = [server["name"] for server in role_vars["haproxy_backend_servers"]]
    for name in names:
        admin.set_server_state("web", name, request.param)
    yield request.param
    for name in names:
        admin.set_server_state("web", name, "ready")


def test_service_running_and_enabled(host):
    """HAProxy runs now and starts at boot."""
    service = host.service("haproxy")
    assert service.is_running and service.is_enabled


def test_config_validates(host, role_vars):
    """The deployed configuration passes HAProxy's own check."""
    host.run_expect([0], "haproxy -c -f %s", role_vars["haproxy_config_file"])


def test_http_redirects_to_https(curl, role_vars):
    """Plain HTTP is answered with a permanent redirect to the same URL over HTTPS."""
    status, headers, _ = curl("http://{name}/some/path?q=1")
    expected = f"https://{role_vars['public_hostname']}/some/path?q=1"
    assert (status, headers.get("location")) == (301, expected)


@pytest.mark.parametrize(
    ("url", "backends_state", "status"),
    [
        ("http://{name}/", "ready", 301),
        ("https://{name}/", "ready", 200),
        ("https://{name}/", "maint", 503),
    ],
    ids=["redirect", "normal", "no-backend-error"],
    indirect=["backends_state"],
)
def test_hsts_on_every_response(curl, role_vars, url, backends_state, status):
    """Strict-Transport-Security is on redirects, normal answers and HAProxy's own errors."""
    got_status, headers, _ = curl(url)
    assert got_status == status
    assert (
        headers.get("strict-transport-security") == f"max-age={role_vars['haproxy_hsts_max_age']}"
    )


@pytest.mark.parametrize("backends_state", ["maint"], indirect=True)
def test_own_errors_use_the_app_error_format(curl, role_vars, backends_state):
    """With no web machine up, the 503 is the app's JSON error with the configured message."""
    status, headers, body = curl("https://{name}/api/ask")
    code, message = role_vars["haproxy_error_responses"][503]
    assert status == 503
    assert headers.get("content-type") == "application/json"
    assert json.loads(body) == {"error": {"code": code, "message": message}}


def handshake(host, role_vars, *options: str) -> bool:
    """Whether openssl completes a TLS handshake with HAProxy for the public name."""
    command = "openssl s_client -connect 127.0.0.1:%s -servername %s" + " %s" * len(options)
    port, name = str(role_vars["haproxy_https_port"]), role_vars["public_hostname"]
    return host.run(f"{command} </dev/null", port, name, *options).rc == 0


@pytest.mark.parametrize(
    ("flag", "accepted"),
    [("-tls1", False), ("-tls1_1", False), ("-tls1_2", True), ("-tls1_3", True)],
)
def test_tls_versions(host, role_vars, flag, accepted):
    """TLS 1.0 and 1.1 are refused by the server, 1.2 and 1.3 accepted."""
    # SECLEVEL=0 lets the client offer old versions, so a refusal can only come from HAProxy.
    assert handshake(host, role_vars, flag, "-cipher", "DEFAULT:@SECLEVEL=0") is accepted


@pytest.mark.parametrize(
    ("cipher", "accepted"),
    [(c, True) for c in PROFILE_CIPHERS if "ECDSA" in c] + [(c, False) for c in OUTSIDE_CIPHERS],
)
def test_tls12_ciphers(host, role_vars, cipher, accepted):
    """Over TLS 1.2 the profile's suites (for our ECDSA key) are accepted and no others."""
    assert handshake(host, role_vars, "-tls1_2", "-cipher", cipher) is accepted


def test_leastconn_avoids_the_busy_backend(host, role_vars, backends_up):
    """While one web machine holds a long request, new requests all go to the idle one."""
    name = role_vars["public_hostname"]
    port = role_vars["haproxy_https_port"]
    ca = f"{role_vars['haproxy_cert_dir']}/{role_vars['haproxy_bootstrap_cert_name']}"
    curl = f"curl -sS --resolve {name}:{port}:127.0.0.1 --cacert {ca}"
    # One slow request, then four quick ones while it is still open (the 1 s head start is far
    # shorter than its 6 s), then the slow one's answer last.
    out = host.check_output(
        f"held=$(mktemp); {curl} 'https://{name}/slow?seconds=6' > $held & slow=$!; sleep 1; "
        f"for i in 1 2 3 4; do {curl} https://{name}/; echo; done; wait $slow; cat $held"
    )
    *quick, slow = [backend_port(line) for line in out.splitlines() if line]
    assert slow not in quick and len(set(quick)) == 1


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("X-Forwarded-For", "127.0.0.1"),
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Host", "{name}"),
    ],
)
def test_forwarded_headers_reach_backend(curl, role_vars, backends_up, header, expected):
    """X-Forwarded-* reach the web machine as HAProxy saw the request, whatever the client sent."""
    _, _, body = curl("https://{name}/", "-H", f"{header}: spoofed.example")
    received = {k.lower(): v for k, v in json.loads(body)["headers"].items()}
    assert received[header.lower()] == expected.format(name=role_vars["public_hostname"])


def test_every_web_server_line_verifies_tls(host, role_vars):
    """Every server of backend web speaks TLS, verifies against the CA file and checks the name."""
    config = host.file(role_vars["haproxy_config_file"]).content_string
    backend = config.partition("\nbackend web\n")[2].partition("\nbackend ")[0]
    lines = [line.split() for line in backend.splitlines() if line.split()[:1] == ["server"]]
    ca_file = role_vars["haproxy_backend_ca_file"]
    assert {words[1]: " ".join(words[3:]) for words in lines} == {
        server["name"]: f"ssl verify required ca-file {ca_file} verifyhost {server['name']}"
        for server in role_vars["haproxy_backend_servers"]
    }


def test_backend_ca_file_holds_the_configured_ca(host, role_vars):
    """The CA file HAProxy verifies with is the CA prepare.yml made, public and owned by root."""
    ca_file = host.file(role_vars["haproxy_backend_ca_file"])
    made = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "fake-web-ca.pem").read_text()
    assert (ca_file.user, ca_file.group, ca_file.mode) == ("root", "haproxy", 0o644)
    assert ca_file.content_string.strip() == made.strip()


def test_health_checks_pass_over_verified_tls(admin, role_vars, backends_up):
    """The fakes, which speak only TLS, pass HAProxy's HTTP health checks."""
    servers = admin.servers("web")
    names = [server["name"] for server in role_vars["haproxy_backend_servers"]]
    assert {name: servers[name]["check_status"] for name in names} == dict.fromkeys(names, "L7OK")


@pytest.fixture
def moved_server(request, admin, role_vars, backends_up):
    """Point the first web server at another TLS listener for one test, then back."""
    server, other = role_vars["haproxy_backend_servers"][:2]
    port = {
        "untrusted-certificate": role_vars["fake_backend_untrusted_port"],
        "certificate-for-another-name": other["port"],
    }[request.param]
    admin.send(f"set server web/{server['name']} addr {server['address']} port {port}")
    yield server["name"]
    admin.send(f"set server web/{server['name']} addr {server['address']} port {server['port']}")
    wait_for_status(admin, {server["name"]}, "UP")


@pytest.mark.parametrize(
    "moved_server", ["untrusted-certificate", "certificate-for-another-name"], indirect=True
)
def test_unverified_web_server_is_taken_out(admin, moved_server):
    """A server whose certificate is self-signed or names another server fails its checks at TLS."""
    server = wait_for_status(admin, {moved_server}, "DOWN")[moved_server]
    # L6: the TLS layer failed, not the TCP connection (L4) or the HTTP answer (L7).
    assert server["check_status"].startswith("L6")


def test_acme_challenge_routed_to_certbot(curl, role_vars):
    """HTTP-01 challenge paths on port 80 go to certbot's local listener, not to the redirect."""
    status, _, body = curl("http://{name}/.well-known/acme-challenge/token")
    assert (status, backend_port(body)) == (200, role_vars["haproxy_acme_http01_port"])


def test_only_expected_ports_listen(host, role_vars):
    """HAProxy listens on 80 and 443 everywhere and on the stats port on loopback only."""
    out = host.check_output("ss -Hltnp")
    listening = {line.split()[3] for line in out.splitlines() if '"haproxy"' in line}
    assert listening == {
        f"0.0.0.0:{role_vars['haproxy_http_port']}",
        f"0.0.0.0:{role_vars['haproxy_https_port']}",
        f"127.0.0.1:{role_vars['haproxy_stats_port']}",
    }


def test_admin_socket_is_local_and_group_only(host, role_vars):
    """The runtime API is a Unix socket for root and the haproxy group only."""
    socket = host.file(role_vars["haproxy_admin_socket"])
    assert (socket.is_socket, socket.user, socket.group, socket.mode) == (
        True,
        "root",
        "haproxy",
        0o660,
    )


def test_firewall_dropin_opens_http_and_https(host, role_vars):
    """The firewall drop-in admits exactly HTTP and HTTPS."""
    dropin = host.file(f"{role_vars['firewall_dropin_dir']}/50-haproxy.nft")
    ports = f"{role_vars['haproxy_http_port']}, {role_vars['haproxy_https_port']}"
    assert f"add rule inet filter input tcp dport {{ {ports} }} accept" in dropin.content_string


def test_firewall_rule_loaded(host, role_vars):
    """The loaded ruleset accepts HTTP and HTTPS in the input chain."""
    chain = host.check_output("nft list chain inet filter input")
    ports = f"{role_vars['haproxy_http_port']}, {role_vars['haproxy_https_port']}"
    assert f"tcp dport {{ {ports} }} accept" in chain
