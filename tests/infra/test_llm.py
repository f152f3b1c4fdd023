"""The LLM machines: Ollama on loopback only, behind the authenticating gateway."""

import json
import shlex

import pytest
from conftest import host_var, hosts, role_internal

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
    """Without credentials the gateway answers 401, over TLS verified against its own CA."""
    port = host_var(hostname, "llm_gateway_port", role="llm_gateway")
    tls_dir = host_var(hostname, "llm_gateway_tls_dir", role="llm_gateway")
    ca = role_internal("llm_gateway", "__llm_gateway_ca_cert").replace(
        "{{ llm_gateway_tls_dir }}", tls_dir
    )
    probe = (
        "import ssl, urllib.request, urllib.error\n"
        f"context = ssl.create_default_context(cafile='{ca}')\n"
        "try:\n"
        f"    urllib.request.urlopen('https://127.0.0.1:{port}/api/tags', context=context)\n"
        "    print(200)\n"
        "except urllib.error.HTTPError as error:\n"
        "    print(error.code)\n"
    )
    assert host.check_output(f"python3 -c {shlex.quote(probe)}") == "401"


@pytest.mark.parametrize("key", ["__llm_gateway_ca_key", "__llm_gateway_server_key"])
def test_gateway_private_keys_are_private(host, hostname, key):
    """The gateway's CA and server keys are readable by root only."""
    tls_dir = host_var(hostname, "llm_gateway_tls_dir", role="llm_gateway")
    path = role_internal("llm_gateway", key).replace("{{ llm_gateway_tls_dir }}", tls_dir)
    assert host.file(path).mode & 0o077 == 0


def test_gateway_credentials_database_is_private(host, hostname):
    """The credentials database (hashed tokens) is not readable by other users."""
    database = host.file(host_var(hostname, "llm_gateway_credentials_db", role="llm_gateway"))
    assert database.exists
    assert database.mode & 0o007 == 0


def test_ollama_serves_a_model_that_answers(host, hostname):
    """Ollama lists at least one model, and a short generation with it gives text."""
    port = host_var(hostname, "ollama_port", role="ollama")
    probe = (
        "import json, urllib.request\n"
        f"base = 'http://127.0.0.1:{port}'\n"
        "models = json.load(urllib.request.urlopen(base + '/api/tags', timeout=10))['models']\n"
        "body = {'model': models[0]['name'], 'prompt': 'Say hello.', 'stream': False,\n"
        "        'options': {'num_predict': 8}}\n"
        "request = urllib.request.Request(base + '/api/generate', json.dumps(body).encode(),\n"
        "                                 {'Content-Type': 'application/json'})\n"
        "answer = json.load(urllib.request.urlopen(request, timeout=300))\n"
        "print(json.dumps({'model': models[0]['name'], 'response': answer['response']}))\n"
    )
    answer = json.loads(host.check_output(f"python3 -c {shlex.quote(probe)}"))
    assert answer["response"].strip(), f"{answer['model']} on {hostname} answered nothing"
