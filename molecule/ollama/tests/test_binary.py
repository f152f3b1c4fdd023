"""The binary method: Ollama built from source, generating with a model imported from its GGUF."""

from __future__ import annotations

import hashlib
import json
import shlex
from typing import Any

import pytest
from conftest import http_json

from deploykit.ssh import probe_argv

testinfra_hosts = ["instance-ollama"]

QUESTION = "What is the capital of France? Answer in one sentence."
# A text a greedy decoder goes on counting for thousands of tokens without stopping (raw: no chat
# template to answer and finish), the same for the control generation and the cancelled one.
LONG_ANSWER = {
    "prompt": "1, 2, 3, 4, 5, 6, 7, 8, 9, 10,",
    "raw": True,
    "options": {"temperature": 0, "seed": 1},
}
# The control generation shows the model does not stop on its own before this many tokens.
CONTROL_TOKENS = 500


def sha256_of(path: str) -> str:
    """sha256 of a controller file, taken independently of the role."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@pytest.fixture(scope="module")
def model(models: list[Any]) -> dict[str, Any]:
    """The GGUF import this machine serves."""
    (imported,) = [m for m in models if isinstance(m, dict)]
    return imported


@pytest.fixture(scope="module")
def server_pid(host: Any) -> str:
    """The main process of ollama.service."""
    return host.check_output("systemctl show -p MainPID --value ollama.service")


@pytest.fixture(scope="module")
def runner_pids(host: Any, api: str, model: dict[str, Any], server_pid: str) -> list[str]:
    """The "ollama runner" processes, with the model loaded by a one-token generation."""
    body = {"model": model["name"], "prompt": "Hi", "stream": False, "options": {"num_predict": 1}}
    assert http_json(host, f"{api}/api/generate", body, timeout=120)[0] == 200
    pids = host.check_output(f"cat /proc/{server_pid}/task/*/children").split()
    assert pids, "the server started no runner for the model"
    return pids


def test_cli_is_the_provided_binary(host: Any, ollama: dict[str, Any]) -> None:
    """/usr/local/bin/ollama links to the controller's binary, installed under its sha256."""
    expected = sha256_of(ollama["ollama_binary_file"])
    target = f"{ollama['__ollama_binary_root']}/{expected}/bin/ollama"
    assert host.file("/usr/local/bin/ollama").linked_to == target
    assert host.file(target).sha256sum == expected


def test_unit_starts_the_installed_binary(host: Any) -> None:
    """ExecStart is the binary /usr/local/bin/ollama links to, serving."""
    target = host.file("/usr/local/bin/ollama").linked_to
    exec_start = host.check_output("systemctl show -p ExecStart --value ollama.service")
    assert f"path={target} ;" in exec_start
    assert f"argv[]={target} serve ;" in exec_start


def test_unit_keeps_ollama_off_its_cloud(host: Any) -> None:
    """OLLAMA_NO_CLOUD=1 is set, so Ollama does not try to reach ollama.com at start."""
    environment = host.check_output("systemctl show -p Environment --value ollama.service")
    assert "OLLAMA_NO_CLOUD=1" in environment.split()


@pytest.mark.parametrize(
    ("endpoint", "request_body", "answer"),
    [
        ("generate", {"prompt": QUESTION}, lambda body: body["response"]),
        (
            "chat",
            {"messages": [{"role": "user", "content": QUESTION}]},
            lambda body: body["message"]["content"],
        ),
    ],
)
def test_generation_answers(
    host: Any, api: str, model: dict[str, Any], endpoint: str, request_body: dict, answer: Any
) -> None:
    """/api/generate and /api/chat answer a question with the imported model, non-empty."""
    body = {"model": model["name"], "stream": False, "options": {"num_predict": 64}}
    status, reply = http_json(host, f"{api}/api/{endpoint}", {**body, **request_body}, timeout=120)
    assert status == 200
    assert reply["eval_count"] > 0
    assert answer(reply).strip()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("NoNewPrivs", "1"),
        ("CapEff", "0000000000000000"),
        ("CapBnd", "0000000000000000"),
        # 2 is a seccomp filter: MemoryDenyWriteExecute and SystemCallArchitectures are enforced.
        ("Seccomp", "2"),
    ],
)
def test_runner_generates_under_the_sandbox(
    host: Any, runner_pids: list[str], field: str, value: str
) -> None:
    """The runner doing the generation carries the unit's sandbox (no privileges, seccomp on)."""
    for pid in runner_pids:
        status = dict(
            line.split(":\t", 1)
            for line in host.file(f"/proc/{pid}/status").content_string.splitlines()
        )
        assert status[field].strip() == value


def test_runner_runs_as_dedicated_user(
    host: Any, ollama: dict[str, Any], runner_pids: list[str]
) -> None:
    """The runner processes run as the role's system user."""
    for pid in runner_pids:
        assert host.check_output(f"ps -o user= -p {pid}") == ollama["ollama_user"]


def test_server_and_runner_listen_on_loopback_only(
    host: Any, ollama: dict[str, Any], server_pid: str, runner_pids: list[str]
) -> None:
    """Every listening socket of the server and its runners is on 127.0.0.1."""
    pids = {server_pid, *runner_pids}
    listening = [
        line.split()
        for line in host.check_output("ss -Htlnp").splitlines()
        if any(f"pid={pid}," in line for pid in pids)
    ]
    addresses = {fields[3].rsplit(":", 1)[0] for fields in listening}
    assert len(listening) >= 2, "expected the API socket and the runner's"
    assert addresses == {ollama["ollama_host"]}


def test_model_weights_are_the_configured_gguf(
    host: Any, ollama: dict[str, Any], model: dict[str, Any]
) -> None:
    """The model's manifest names the GGUF's sha256 as its weights, as does the controller file."""
    name, _, tag = model["name"].partition(":")
    manifests = f"{ollama['ollama_models_dir']}/manifests/registry.ollama.ai/library"
    manifest = host.file(f"{manifests}/{name}/{tag or 'latest'}")
    layers = json.loads(manifest.content_string)["layers"]
    weights = [layer["digest"] for layer in layers if layer["mediaType"].endswith(".model")]
    assert weights == [f"sha256:{model['sha256']}"]
    assert sha256_of(model["gguf"]) == model["sha256"]


def test_blob_holds_the_gguf(host: Any, ollama: dict[str, Any], model: dict[str, Any]) -> None:
    """The blob Ollama keeps for the weights hashes to the GGUF's sha256."""
    blob = host.file(f"{ollama['ollama_models_dir']}/blobs/sha256-{model['sha256']}")
    assert blob.sha256sum == model["sha256"]


def test_model_parameters_are_applied(host: Any, api: str, model: dict[str, Any]) -> None:
    """The Modelfile parameters of the GGUF import are the model's parameters."""
    status, shown = http_json(host, f"{api}/api/show", {"model": model["name"]})
    assert status == 200
    present = [line.split(None, 1) for line in shown["parameters"].splitlines()]
    for key, value in model.get("parameters", {}).items():
        assert [key, str(value)] in present


@pytest.fixture(scope="module")
def control(host: Any, api: str, model: dict[str, Any]) -> dict[str, Any]:
    """The long answer, uncancelled and capped at CONTROL_TOKENS, for its length and speed."""
    body = {**LONG_ANSWER, "model": model["name"], "stream": False}
    body["options"] = {**LONG_ANSWER["options"], "num_predict": CONTROL_TOKENS}
    status, reply = http_json(host, f"{api}/api/generate", body, timeout=300)
    assert status == 200
    return reply


def test_cancelled_stream_stops_the_runner(
    host: Any,
    ollama: dict[str, Any],
    model: dict[str, Any],
    server_pid: str,
    control: dict[str, Any],
) -> None:
    """A client that hangs up mid-stream stops the runner: its CPU time stops growing."""
    # Uncancelled, the same greedy answer runs past the whole probe: no early stop can pass.
    assert control["done_reason"] == "length"
    tokens_per_second = control["eval_count"] / (control["eval_duration"] / 1e9)

    body = {**LONG_ANSWER, "model": model["name"], "stream": True}
    body["options"] = {**LONG_ANSWER["options"], "num_predict": 100 * CONTROL_TOKENS}
    address, port = ollama["ollama_host"], str(ollama["ollama_port"])
    args = " ".join(shlex.quote(a) for a in (address, port, server_pid, "close", json.dumps(body)))
    probe = json.loads(host.check_output(shlex.join(probe_argv("ollama_cancel")) + f" {args}"))

    assert tokens_per_second * probe["elapsed_seconds"] < CONTROL_TOKENS, probe
    assert not probe["done_seen"], probe
    # While streaming, the runner computes (well over a tenth of a core) ...
    assert probe["cpu_while_streaming"] > 0.1 * probe["streamed_seconds"], probe
    # ... and one second after the hang-up it has stopped (under 2 % of a core).
    assert probe["cpu_after_hang_up"] < 0.02 * probe["watched_seconds"], probe
