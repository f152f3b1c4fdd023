"""The load balancer: HAProxy with a valid configuration and an ACME certificate."""

import pytest
from conftest import address, hosts, inventory, probe, running_and_enabled, var

from deploykit.haproxy import RUNNING, RuntimeAPI

testinfra_hosts = hosts("lb")


@pytest.mark.parametrize("unit", ["haproxy.service", "certbot.timer"])
def test_unit_running_and_enabled(host, unit):
    """HAProxy serves and certbot's renewal timer is armed."""
    assert running_and_enabled(host, unit) == (True, True)


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


def test_web_machines_are_reached_over_verified_tls(host, hostname):
    """Every web server line speaks TLS and requires a certificate from the web machines' CAs."""
    config = host.file(var(hostname, "haproxy_config_file")).content_string
    port = var(hostname, "haproxy_backend_port")
    servers = [line.split() for line in config.splitlines() if line.strip().startswith("server ")]
    web = [fields for fields in servers if fields[2].endswith(f":{port}")]
    assert {fields[1] for fields in web} == set(inventory().hosts("web"))
    for fields in web:
        line = " ".join(fields)
        assert " ssl verify required ca-file " in f"{line} ", line
        assert f"verifyhost {fields[1]}" in line, line


def test_every_web_machine_passes_the_tls_health_check(host, hostname):
    """HAProxy sees each web machine up, which it can only through a verified TLS handshake."""
    api = RuntimeAPI(
        lambda *args: probe(host, "haproxy_api", *args), var(hostname, "haproxy_admin_socket")
    )
    states = api.server_states(var(hostname, "haproxy_backend_port"))
    assert states == {address(web): RUNNING for web in inventory().hosts("web")}, states
