"""The load balancer: HAProxy with a valid configuration and an ACME certificate."""

import posixpath

import pytest
from conftest import address, hosts, inventory, probe, running_and_enabled, var

from deploykit.haproxy import RUNNING, RuntimeAPI

testinfra_hosts = hosts("lb")


@pytest.mark.parametrize("unit", ["haproxy.service", "certbot.timer"])
def test_unit_running_and_enabled(host, unit):
    """HAProxy serves and certbot's renewal timer is armed."""
    running, enabled = running_and_enabled(host, unit)
    assert running and enabled, f"{unit}: running {running}, enabled at boot {enabled}"


def test_haproxy_config_validates(host, hostname):
    """The running configuration passes HAProxy's own check."""
    assert host.run("haproxy -c -f %s", var(hostname, "haproxy_config_file")).rc == 0


@pytest.mark.parametrize("port_var", ["haproxy_http_port", "haproxy_https_port"])
def test_listens_publicly(host, hostname, port_var):
    """HTTP and HTTPS listen on every address."""
    assert host.socket(f"tcp://0.0.0.0:{var(hostname, port_var)}").is_listening


def test_certificate_bundle_is_private(host, hostname):
    """The combined certificate and key HAProxy reads is readable by root only."""
    cert_dir = var(hostname, "haproxy_cert_dir")
    bundle = host.file(f"{cert_dir}/{var(hostname, 'public_hostname')}.pem")
    assert bundle.exists
    assert bundle.user == "root"
    assert bundle.mode & 0o077 == 0


def test_bootstrap_certificate_is_gone(host, hostname):
    """Once the ACME certificate is in place, the self-signed bootstrap one is removed."""
    cert_dir = var(hostname, "haproxy_cert_dir")
    bootstrap = var(hostname, "haproxy_bootstrap_cert_name")
    assert not host.file(f"{cert_dir}/{bootstrap}").exists


def test_acme_challenge_listener_is_local_only(host, hostname):
    """certbot's HTTP-01 listener is never exposed (it only binds during a challenge)."""
    port = var(hostname, "haproxy_acme_http01_port")
    assert not host.socket(f"tcp://0.0.0.0:{port}").is_listening


def _sections(config: str) -> dict[str, list[str]]:
    """The configuration's directives by section ("defaults", "backend web", ...), without
    comments, blank lines or indentation."""
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    for raw in config.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if not raw[0].isspace():
            current = sections.setdefault(" ".join(line.split()), [])
        else:
            current.append(" ".join(line.split()))
    return sections


@pytest.fixture
def sections(host, hostname) -> dict[str, list[str]]:
    return _sections(host.file(var(hostname, "haproxy_config_file")).content_string)


def test_web_backend_balances_by_open_streams(sections):
    """Answers stream for minutes, so a request goes to the machine with the fewest open."""
    balance = [line for line in sections["backend web"] if line.startswith("balance ")]
    assert balance == ["balance leastconn"], f"backend web: {balance}, want balance leastconn"


def test_web_backend_retries_failed_connections_elsewhere(sections, hostname):
    """A failed connection is retried on another machine; nothing else is retried, since a
    request that reached a web machine (POST /api/ask) must not run twice."""
    web = sections["backend web"]
    retries = f"retries {var(hostname, 'haproxy_retries')}"
    assert retries in web, f"backend web: {retries} missing"
    assert "option redispatch 1" in web, "backend web: option redispatch missing"
    retry_on = [line for line in web if line.startswith("retry-on ")]
    assert retry_on == ["retry-on conn-failure"], f"backend web: {retry_on}, want conn-failure only"


def test_nothing_holds_back_the_stream(sections):
    """No compression and no request buffering anywhere, and tokens are sent without delay."""
    held = [
        f"{name}: {line}"
        for name, lines in sections.items()
        for line in lines
        if line.startswith(("compression ", "option http-buffer-request"))
    ]
    assert not held, f"HAProxy holds back data: {held}"
    assert "option http-no-delay" in sections["backend web"], "backend web: no http-no-delay"


def test_web_machines_are_reached_over_verified_tls(host, hostname):
    """Every web server line speaks TLS and requires a certificate from the web machines' CAs."""
    config = host.file(var(hostname, "haproxy_config_file")).content_string
    port = var(hostname, "haproxy_backend_port")
    servers = [line.split() for line in config.splitlines() if line.strip().startswith("server ")]
    web = [fields for fields in servers if fields[2].endswith(f":{port}")]
    assert {fields[1] for fields in web} == set(inventory().hosts("web"))
    for fields in web:
        line = " ".join(fields)
        assert " ssl verify required ca-file " in f"{line} ", f"unverified TLS: {line}"
        assert f"verifyhost {fields[1]}" in line, f"no check of the name: {line}"


@pytest.fixture
def runtime_api(host, hostname) -> RuntimeAPI:
    """HAProxy's runtime API, through the haproxy_api probe on the load balancer."""
    return RuntimeAPI(
        lambda *args: probe(host, "haproxy_api", *args), var(hostname, "haproxy_admin_socket")
    )


def test_every_web_machine_passes_the_tls_health_check(runtime_api, hostname):
    """HAProxy sees each web machine up, which it can only through a verified TLS handshake."""
    states = runtime_api.server_states(var(hostname, "haproxy_backend_port"))
    assert states == {address(web): RUNNING for web in inventory().hosts("web")}, states


def test_every_web_machine_is_health_checked_over_http(runtime_api):
    """Each web machine's last check was an HTTP one that passed (L7OK): a server without
    checks, or checked by its TLS handshake alone, would stay in while its app fails."""
    servers = runtime_api.servers("web")
    assert set(servers) == set(inventory().hosts("web")), sorted(servers)
    checks = {name: row["check_status"] or "no check" for name, row in servers.items()}
    wrong = {name: check for name, check in checks.items() if check != "L7OK"}
    assert not wrong, f"web machines not health-checked over HTTP (want L7OK): {wrong}"


def test_certbot_deploy_hook_is_armed(host, hostname):
    """certbot runs only executable deploy hooks: without it a renewed certificate would never
    reach HAProxy, which would serve the old one until it expires."""
    hook = host.file(var(hostname, "certbot_deploy_hook"))
    assert hook.is_file, f"{hook.path} is missing"
    assert hook.user == "root", f"{hook.path} is owned by {hook.user}"
    assert hook.mode & 0o100, f"{hook.path} is mode {hook.mode:04o}: certbot skips it"
    assert hook.mode & 0o022 == 0, f"{hook.path} is mode {hook.mode:04o}: writable by others"


def test_certbot_renews_as_the_role_configured(host, hostname):
    """The lineage's renewal settings, which certbot.timer uses, are those of the first run:
    the same ACME server, and the standalone listener HAProxy routes challenges to."""
    name = var(hostname, "certbot_cert_name")
    path = posixpath.join("/etc/letsencrypt/renewal", f"{name}.conf")
    renewal = dict(
        (key.strip(), value.strip())
        for key, sep, value in (
            line.partition("=") for line in host.file(path).content_string.splitlines()
        )
        if sep
    )
    want = {
        "server": var(hostname, "certbot_acme_directory_url"),
        "authenticator": "standalone",
        "http01_address": var(hostname, "certbot_http01_address"),
        "http01_port": str(var(hostname, "certbot_http01_port")),
    }
    wrong = [
        f"{key} = {renewal.get(key)}, want {value}"
        for key, value in want.items()
        if renewal.get(key) != value
    ]
    assert not wrong, f"{path}: " + "; ".join(wrong)
