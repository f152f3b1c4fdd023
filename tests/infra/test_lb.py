"""The load balancer: HAProxy with a valid configuration and an ACME certificate."""

import shlex

import pytest
from conftest import group_hosts, host_var, hosts

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


def test_web_machines_are_reached_over_verified_tls(host, hostname):
    """Every web server line speaks TLS and requires a certificate from the web machines' CAs."""
    config = host.file(host_var(hostname, "haproxy_config_file", role="haproxy")).content_string
    port = host_var(hostname, "haproxy_backend_port", role="haproxy")
    servers = [line.split() for line in config.splitlines() if line.strip().startswith("server ")]
    web = [fields for fields in servers if fields[2].endswith(f":{port}")]
    assert {fields[1] for fields in web} == set(group_hosts("web"))
    for fields in web:
        line = " ".join(fields)
        assert " ssl verify required ca-file " in f"{line} ", line
        assert f"verifyhost {fields[1]}" in line, line


def test_every_web_machine_passes_the_tls_health_check(host, hostname):
    """HAProxy sees each web machine up, which it can only through a verified TLS handshake."""
    probe = (
        "import socket, sys\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "s.connect(sys.argv[1])\n"
        "s.sendall(b'show servers state web\\n')\n"
        "data = b''\n"
        "while chunk := s.recv(65536):\n"
        "    data += chunk\n"
        "print(data.decode())\n"
    )
    socket_path = host_var(hostname, "haproxy_admin_socket", role="haproxy")
    out = host.check_output(f"python3 -c {shlex.quote(probe)} {shlex.quote(socket_path)}")
    # A version line, then the column names, then one line per server.
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# be_id"))
    header = lines[start][2:].split()
    rows = [dict(zip(header, line.split(), strict=False)) for line in lines[start + 1 :] if line]
    states = {row["srv_name"]: row["srv_op_state"] for row in rows}
    assert states == dict.fromkeys(group_hosts("web"), "2"), states
