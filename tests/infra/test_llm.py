"""The LLM machines: Ollama on loopback only, behind the authenticating gateway."""

import json

import pytest
from conftest import hosts, probe, running_and_enabled, var

testinfra_hosts = hosts("llm")


@pytest.mark.parametrize("service", ["ollama", "apache2"])
def test_service_running_and_enabled(host, service):
    """Ollama and its gateway run now and start at boot."""
    assert running_and_enabled(host, service) == (True, True)


def test_ollama_listens_on_loopback_only(host, hostname):
    """Ollama has no authentication, so only local processes may reach it."""
    port = var(hostname, "ollama_port")
    listening = [s for s in host.socket.get_listening_sockets() if s.endswith(f":{port}")]
    assert listening == [f"tcp://127.0.0.1:{port}"]


def test_ollama_runs_as_its_own_user(host):
    """Ollama runs under a dedicated unprivileged user."""
    user = host.check_output("systemctl show -p User --value ollama")
    assert user == "ollama"


def test_gateway_listens(host, hostname):
    """The gateway answers on its TLS port."""
    port = var(hostname, "llm_gateway_port")
    assert host.socket(f"tcp://0.0.0.0:{port}").is_listening


def test_gateway_refuses_missing_credentials(host, hostname):
    """Without credentials the gateway answers 401, over TLS verified against its own CA."""
    url = f"https://127.0.0.1:{var(hostname, 'llm_gateway_port')}/api/tags"
    ca = var(hostname, "__llm_gateway_ca_cert")
    answer = json.loads(probe(host, "https_fetch", "GET", url, "", "{}", ca))
    assert answer["status"] == 401, answer


@pytest.mark.parametrize("key", ["__llm_gateway_ca_key", "__llm_gateway_server_key"])
def test_gateway_private_keys_are_private(host, hostname, key):
    """The gateway's CA and server keys are readable by root only."""
    assert host.file(var(hostname, key)).mode & 0o077 == 0


def test_gateway_credentials_database_is_private(host, hostname):
    """The credentials database (hashed tokens) is not readable by other users."""
    database = host.file(var(hostname, "llm_gateway_credentials_db"))
    assert database.exists
    assert database.mode & 0o007 == 0


def test_ollama_serves_a_model_that_answers(host, hostname):
    """Ollama lists at least one model, and a short generation with it gives text."""
    base = f"http://127.0.0.1:{var(hostname, 'ollama_port')}"

    def call(path: str, body: dict | None, timeout: int) -> dict:
        payload = "" if body is None else json.dumps(body)
        status, _, text = probe(host, "http_json", base + path, payload, str(timeout)).partition(
            "\n"
        )
        assert status == "200", text
        return json.loads(text)

    model = call("/api/tags", None, 10)["models"][0]["name"]
    body = {"model": model, "prompt": "Say hello.", "stream": False, "options": {"num_predict": 8}}
    answer = call("/api/generate", body, 300)
    assert answer["response"].strip(), f"{model} on {hostname} answered nothing"
