"""The LLM machines: Ollama on loopback only, behind the authenticating gateway."""

import json

import pytest
from conftest import hosts, probe, running_and_enabled, var

testinfra_hosts = hosts("llm")

# Ollama runs this many requests at once where OLLAMA_NUM_PARALLEL is unset (its default).
OLLAMA_DEFAULT_PARALLEL = 1


def ollama_environment(host) -> dict[str, str]:
    """The environment the running Ollama (or simulator) process was started with."""
    pid = host.check_output("systemctl show -p MainPID --value ollama")
    raw = host.check_output(f"tr '\\000' '\\n' < /proc/{pid}/environ")
    return dict(line.split("=", 1) for line in raw.splitlines() if "=" in line)


def ollama_queue(environment: dict[str, str]) -> int:
    """The queue the running Ollama was given (the simulator reads its own variable)."""
    return int(environment.get("OLLAMA_SIM_MAX_QUEUE") or environment["OLLAMA_MAX_QUEUE"])


@pytest.mark.parametrize("service", ["ollama", "apache2"])
def test_service_running_and_enabled(host, service):
    """Ollama and its gateway run now and start at boot."""
    assert running_and_enabled(host, service) == (True, True)


def test_ollama_listens_on_loopback_only(host, hostname):
    """Ollama has no authentication, so only local processes may reach it."""
    port = var(hostname, "ollama_port")
    listening = [s for s in host.socket.get_listening_sockets() if s.endswith(f":{port}")]
    assert listening == [f"tcp://127.0.0.1:{port}"], (
        f"{hostname}: Ollama listens on {listening}, want 127.0.0.1 only: "
        "it has no authentication of its own"
    )


def test_ollama_runs_as_its_own_user(host, hostname):
    """Ollama runs under a dedicated unprivileged user."""
    pid = host.check_output("systemctl show -p MainPID --value ollama")
    user = host.check_output(f"ps -o user= -p {pid}")
    assert user == var(hostname, "ollama_user"), f"{hostname}: Ollama runs as {user!r}"


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("NoNewPrivileges", "yes"),
        ("CapabilityBoundingSet", ""),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("RestrictSUIDSGID", "yes"),
    ],
)
def test_ollama_is_sandboxed(host, hostname, setting, expected):
    """Ollama parses untrusted model files and prompts: systemd confines what it may touch."""
    value = host.check_output(f"systemctl show -p {setting} --value ollama")
    assert value == expected, f"{hostname}: Ollama's unit has {setting}={value}, want {expected!r}"


def test_ollama_queue_is_the_configured_one(host, hostname):
    """Ollama queues as many requests as the role says, the number the gateway is sized for."""
    queue = ollama_queue(ollama_environment(host))
    wanted = int(var(hostname, "ollama_max_queue"))
    assert queue == wanted, f"{hostname}: Ollama runs with a queue of {queue}, want {wanted}"


def test_gateway_listens(host, hostname):
    """The gateway answers on its TLS port."""
    port = var(hostname, "llm_gateway_port")
    assert host.socket(f"tcp://0.0.0.0:{port}").is_listening


def test_gateway_refuses_missing_credentials(host, hostname):
    """Without credentials the gateway answers 401, over TLS verified against its own CA."""
    url = f"https://127.0.0.1:{var(hostname, 'llm_gateway_port')}/api/tags"
    ca = var(hostname, "__llm_gateway_ca_cert")
    answer = json.loads(probe(host, "https_fetch", "GET", url, "", "{}", ca))
    assert answer["status"] == 401, (
        f"{hostname}: the gateway answered without credentials: {answer}"
    )


def test_gateway_workers_outnumber_ollama(host, hostname):
    """The gateway's one child holds more streams than Ollama runs and queues together, so that
    a full Ollama answers the extra request with its 503 at once instead of it waiting here."""
    environment = ollama_environment(host)
    held = ollama_queue(environment) + int(
        environment.get("OLLAMA_NUM_PARALLEL", OLLAMA_DEFAULT_PARALLEL)
    )
    wanted = int(var(hostname, "llm_gateway_max_workers"))
    # Children are the apache2 processes whose parent is also apache2; each runs its workers plus
    # a listener thread and its main thread.
    rows = host.check_output("ps -C apache2 -o pid=,ppid=,nlwp=").splitlines()
    pids = {row.split()[0] for row in rows}
    workers = [int(n) - 2 for _, ppid, n in (row.split() for row in rows) if ppid in pids]
    assert workers == [wanted], (
        f"{hostname}: the gateway runs {workers} worker threads per child, want one child of "
        f"{wanted} (llm_gateway_max_workers)"
    )
    assert wanted > held, (
        f"{hostname}: the gateway has {wanted} workers for Ollama's {held} requests (queue and "
        "running): a full gateway would hold requests that Ollama would refuse"
    )


@pytest.mark.parametrize("module", ["deflate", "autoindex", "status", "authn_file"])
def test_gateway_loads_no_unneeded_module(host, hostname, module):
    """No compression (it would hold back the token stream), listings, status or file auth."""
    loaded = host.check_output("apache2ctl -M")
    assert f" {module}_module " not in loaded + "\n", f"{hostname}: Apache loads {module}_module"


def test_gateway_port_admits_web_machines_only(host, hostname):
    """The firewall accepts the gateway port from the web machines' addresses, from no other."""
    ruleset = json.loads(host.check_output("nft -j list chain inet filter input"))
    port = int(var(hostname, "llm_gateway_port"))
    sources: set[str] = set()
    for entry in ruleset["nftables"]:
        expressions = entry.get("rule", {}).get("expr", [])
        matches = [e["match"] for e in expressions if "match" in e]
        if not any(m["right"] == port for m in matches) or not any(
            "accept" in e for e in expressions
        ):
            continue
        saddr = [
            m["right"] for m in matches if m["left"].get("payload", {}).get("field") == "saddr"
        ]
        assert saddr, f"{hostname}: the firewall accepts port {port} from every source"
        for right in saddr:
            elements = right["set"] if isinstance(right, dict) and "set" in right else [right]
            sources |= {str(element) for element in elements}
    allowed = set(var(hostname, "llm_gateway_allowed_sources"))
    assert sources == allowed, (
        f"{hostname}: the firewall accepts port {port} from {sorted(sources)}, "
        f"want the web machines {sorted(allowed)}"
    )


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
