"""The GPU machine: Ollama on loopback only, behind the authenticating gateway."""

import pytest
from conftest import host_var, hosts

testinfra_hosts = hosts("llm")


@pytest.mark.parametrize("service", ["ollama", "apache2"])
def test_service_running_and_enabled(host, service):
    """Ollama and its gateway run now and start at boot."""
    unit = host.service(service)
    assert unit.is_running
    assert unit.is_enabled


def test_ollama_listens_on_loopback_only(host, hostname):
    """Ollama has no authentication, so only local processes may reach it."""
    port = host_var(hostname, "ollama_port", role="ollama")
    listening = [s for s in host.socket.get_listening_sockets() if s.endswith(f":{port}")]
    assert listening == [f"tcp://127.0.0.1:{port}"]


def test_ollama_runs_as_its_own_user(host):
    """Ollama runs under a dedicated unprivileged user."""
    user = host.check_output("systemctl show -p User --value ollama")
    assert user == "ollama"


def test_gateway_listens(host, hostname):
    """The gateway answers on its TLS port."""
    port = host_var(hostname, "llm_gateway_port", role="llm_gateway")
    assert host.socket(f"tcp://0.0.0.0:{port}").is_listening


def test_gateway_refuses_missing_credentials(host, hostname):
    """Without credentials the gateway answers 401."""
    port = host_var(hostname, "llm_gateway_port", role="llm_gateway")
    status = host.check_output(
        f"curl -s -o /dev/null -w '%{{http_code}}' --insecure https://127.0.0.1:{port}/api/tags"
    )
    assert status == "401"
