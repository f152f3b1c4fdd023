"""The load balancer: HAProxy with a valid configuration and an ACME certificate."""

import pytest
from conftest import host_var, hosts

testinfra_hosts = hosts("lb")


@pytest.mark.parametrize("unit", ["haproxy.service", "certbot.timer"])
def test_unit_running_and_enabled(host, unit):
    """HAProxy serves and certbot's renewal timer is armed."""
    service = host.service(unit)
    assert service.is_running
    assert service.is_enabled


def test_haproxy_config_validates(host):
    """The running configuration passes HAProxy's own check."""
    assert host.run("haproxy -c -f /etc/haproxy/haproxy.cfg").rc == 0


@pytest.mark.parametrize("port", [80, 443])
def test_listens_publicly(host, port):
    """HTTP and HTTPS listen on every address."""
    assert host.socket(f"tcp://0.0.0.0:{port}").is_listening


def test_certificate_bundle_is_private(host, hostname):
    """The combined certificate and key HAProxy reads is readable by root only."""
    cert_dir = host_var(hostname, "haproxy_cert_dir", role="haproxy")
    bundle = host.file(f"{cert_dir}/{host_var(hostname, 'public_hostname')}.pem")
    assert bundle.exists
    assert bundle.user == "root"
    assert bundle.mode & 0o077 == 0


def test_bootstrap_certificate_is_gone(host, hostname):
    """Once the ACME certificate is in place, the self-signed bootstrap one is removed."""
    cert_dir = host_var(hostname, "haproxy_cert_dir", role="haproxy")
    bootstrap = host_var(hostname, "haproxy_bootstrap_cert_name", role="haproxy")
    assert not host.file(f"{cert_dir}/{bootstrap}").exists


def test_acme_challenge_listener_is_local_only(host, hostname):
    """certbot's HTTP-01 listener is never exposed (it only binds during a challenge)."""
    port = host_var(hostname, "haproxy_acme_http01_port", role="haproxy")
    assert not host.socket(f"tcp://0.0.0.0:{port}").is_listening
