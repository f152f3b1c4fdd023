"""Every endpoint's shape, types and units, over HTTP against ``python -m ollama_sim``."""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Any

import httpx
import pytest
from sim_harness import RunningSim, ndjson

# The simulator stands in for Ollama in front of the web app, so it owes the app every metric.
from webui.ollama import METRICS

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")
MS = 1_000_000


def post(sim: RunningSim, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{sim.url}{path}", json=body, timeout=30)


def assert_chunk(chunk: dict[str, Any], model: str) -> None:
    assert chunk["model"] == model
    assert RFC3339.match(chunk["created_at"]), chunk["created_at"]
    assert type(chunk["sim_emit_ns"]) is int
    assert type(chunk["done"]) is bool


def assert_metrics(final: dict[str, Any]) -> None:
    assert final["done"] is True
    assert final["done_reason"] == "stop"
    for name in METRICS:
        assert type(final[name]) is int and final[name] >= 0, name


def test_root_says_ollama_is_running(fast_sim: RunningSim) -> None:
    response = httpx.get(f"{fast_sim.url}/", timeout=5)
    assert (response.status_code, response.text) == (200, "Ollama is running")
    head = httpx.head(f"{fast_sim.url}/", timeout=5)
    assert (head.status_code, head.text) == (200, "")


def test_version(fast_sim: RunningSim) -> None:
    body = httpx.get(f"{fast_sim.url}/api/version", timeout=5).json()
    assert re.match(r"^\d+\.\d+\.\d+$", body["version"])
    assert body["simulator"] is True


def test_tags_lists_models_like_ollama(fast_sim: RunningSim) -> None:
    models = httpx.get(f"{fast_sim.url}/api/tags", timeout=5).json()["models"]
    assert [m["name"] for m in models] == ["llama3.2:latest", "qwen2.5:0.5b"]
    first = models[0]
    assert first["model"] == first["name"]
    assert RFC3339.match(first["modified_at"])
    assert type(first["size"]) is int
    assert re.match(r"^[0-9a-f]{64}$", first["digest"])
    assert first["details"] == {
        "parent_model": "",
        "format": "gguf",
        "family": "llama",
        "families": ["llama"],
        "parameter_size": "3.2B",
        "quantization_level": "Q4_K_M",
    }


def test_models_option_changes_tags(start_sim) -> None:
    sim = start_sim(env={"OLLAMA_SIM_MODELS": "tiny:1b,family=phi,params=1B,quant=Q8_0,size=9"})
    (model,) = httpx.get(f"{sim.url}/api/tags", timeout=5).json()["models"]
    assert (model["name"], model["size"]) == ("tiny:1b", 9)
    assert model["details"]["family"] == "phi"
    assert model["details"]["parameter_size"] == "1B"
    assert model["details"]["quantization_level"] == "Q8_0"


def test_generate_stream_is_ndjson_with_a_final_metrics_chunk(fast_sim: RunningSim) -> None:
    response = post(fast_sim, "/api/generate", {"model": "llama3.2", "prompt": "Why is it blue?"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    chunks = ndjson(response.text)
    *tokens, final = chunks
    for chunk in chunks:
        assert_chunk(chunk, "llama3.2")
    assert all(c["done"] is False and isinstance(c["response"], str) for c in tokens)
    assert "".join(c["response"] for c in tokens).startswith("The sky looks blue")
    assert final["response"] == ""
    assert_metrics(final)
    assert final["eval_count"] == len(tokens)
    assert final["prompt_eval_count"] == 4
    assert all(type(i) is int for i in final["context"])
    assert len(final["context"]) == final["prompt_eval_count"] + final["eval_count"]


def test_generate_without_stream_is_one_object(fast_sim: RunningSim) -> None:
    response = post(
        fast_sim, "/api/generate", {"model": "qwen2.5:0.5b", "prompt": "x", "stream": False}
    )
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert_chunk(body, "qwen2.5:0.5b")
    assert_metrics(body)
    assert body["response"].startswith("The sky looks blue")
    assert body["eval_count"] == len(body["response"].split())


def test_chat_stream_carries_assistant_messages(fast_sim: RunningSim) -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "one two"},
    ]
    response = post(fast_sim, "/api/chat", {"model": "llama3.2", "messages": messages})
    *tokens, final = ndjson(response.text)
    for chunk in [*tokens, final]:
        assert_chunk(chunk, "llama3.2")
        assert chunk["message"]["role"] == "assistant"
        assert "response" not in chunk
    assert final["message"]["content"] == ""
    assert "context" not in final
    assert_metrics(final)
    assert final["prompt_eval_count"] == 4


def test_chat_without_stream_returns_the_whole_message(fast_sim: RunningSim) -> None:
    body = post(
        fast_sim,
        "/api/chat",
        {"model": "llama3.2", "messages": [{"role": "user", "content": "q"}], "stream": False},
    ).json()
    assert body["message"]["content"].startswith("The sky looks blue")
    assert_metrics(body)


def test_num_predict_cuts_the_answer_with_reason_length(fast_sim: RunningSim) -> None:
    body = post(
        fast_sim,
        "/api/generate",
        {"model": "llama3.2", "prompt": "x", "stream": False, "options": {"num_predict": 3}},
    ).json()
    assert (body["eval_count"], body["done_reason"]) == (3, "length")
    assert body["response"] == "The sky looks"


def test_empty_prompt_only_loads_the_model(fast_sim: RunningSim) -> None:
    body = post(fast_sim, "/api/generate", {"model": "llama3.2", "prompt": ""}).json()
    assert (body["done"], body["done_reason"], body["response"]) == (True, "load", "")


@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        ("/api/generate", {"model": "nope", "prompt": "x"}, 404, 'model "nope" not found'),
        ("/api/chat", {"model": "nope:7b", "messages": []}, 404, 'model "nope:7b" not found'),
        ("/api/generate", {"prompt": "x"}, 400, "model is required"),
        ("/api/chat", {"model": ""}, 400, "model is required"),
        ("/api/generate", {"model": "llama3.2", "prompt": 3}, 400, "'prompt'"),
        ("/api/chat", {"model": "llama3.2", "messages": [1]}, 400, "message"),
        ("/api/generate", {"model": "llama3.2", "prompt": "[[sim:boom]]"}, 400, "'boom'"),
    ],
)
def test_refusals_are_json_errors_like_ollama(
    fast_sim: RunningSim, path: str, body: dict[str, Any], status: int, error: str
) -> None:
    response = post(fast_sim, path, body)
    assert response.status_code == status
    assert error in response.json()["error"]


@pytest.mark.parametrize(
    ("raw", "error"), [(b"", "missing request body"), (b"{nope", "invalid JSON"), (b"[]", "object")]
)
def test_malformed_body_is_400(fast_sim: RunningSim, raw: bytes, error: str) -> None:
    response = httpx.post(f"{fast_sim.url}/api/generate", content=raw, timeout=5)
    assert response.status_code == 400
    assert error in response.json()["error"]


def test_not_found_model_names_are_matched_with_latest_tag(fast_sim: RunningSim) -> None:
    body = post(
        fast_sim, "/api/generate", {"model": "LLAMA3.2:latest", "prompt": "x", "stream": False}
    ).json()
    assert body["done"] is True


def test_durations_are_nanoseconds_matching_the_configured_timing(start_sim) -> None:
    sim = start_sim("--load-delay", "0.3", "--ttft", "0.2", "--tps", "20", "--answer", "a b c d")
    started = time.monotonic()
    cold = post(sim, "/api/generate", {"model": "llama3.2", "prompt": "x", "stream": False}).json()
    elapsed_ns = (time.monotonic() - started) * 1e9
    warm = post(sim, "/api/generate", {"model": "llama3.2", "prompt": "x", "stream": False}).json()
    # Upper bounds leave room for a busy CI machine; a unit mistake is off by 1000x.
    assert 300 * MS <= cold["load_duration"] < 600 * MS
    assert warm["load_duration"] < 50 * MS
    assert 200 * MS <= cold["prompt_eval_duration"] < 500 * MS
    # Four tokens at 20/s, then the end-of-sequence step: 4 intervals of 50 ms.
    assert 200 * MS <= cold["eval_duration"] < 500 * MS
    parts = cold["load_duration"] + cold["prompt_eval_duration"] + cold["eval_duration"]
    assert parts <= cold["total_duration"] <= elapsed_ns


def test_ps_shows_loaded_models_until_keep_alive_ends(start_sim) -> None:
    sim = start_sim(*("--load-delay", "0", "--ttft", "0", "--tps", "1000", "--keep-alive", "60"))
    assert httpx.get(f"{sim.url}/api/ps", timeout=5).json() == {"models": []}
    post(sim, "/api/generate", {"model": "qwen2.5:0.5b", "prompt": "x", "stream": False})
    (loaded,) = httpx.get(f"{sim.url}/api/ps", timeout=5).json()["models"]
    assert (loaded["name"], loaded["model"]) == ("qwen2.5:0.5b", "qwen2.5:0.5b")
    assert loaded["size_vram"] == loaded["size"]
    assert loaded["details"]["family"] == "qwen2"
    expires = datetime.fromisoformat(loaded["expires_at"]).timestamp()
    assert 50 < expires - time.time() <= 60
    post(sim, "/api/generate", {"model": "qwen2.5:0.5b", "prompt": "", "keep_alive": 0})
    assert httpx.get(f"{sim.url}/api/ps", timeout=5).json() == {"models": []}


def test_chunks_are_paced_and_each_is_its_own_write(start_sim) -> None:
    """At 20 tokens/s each chunk leaves 50 ms after the previous one, in a separate read."""
    sim = start_sim("--load-delay", "0", "--ttft", "0", "--tps", "20", "--answer", "a b c d e f")
    arrivals: list[tuple[float, bytes]] = []
    with httpx.stream(
        "POST", f"{sim.url}/api/generate", json={"model": "llama3.2", "prompt": "x"}, timeout=10
    ) as response:
        for data in response.iter_raw():
            arrivals.append((time.monotonic(), data))
    assert [data.count(b"sim_emit_ns") for _, data in arrivals] == [1] * 7
    emitted = [c["sim_emit_ns"] for c in ndjson(b"".join(d for _, d in arrivals).decode())]
    # Token i is due 50 ms * i after the first; sleeping is never early, and rarely much late.
    for index, stamp_ns in enumerate(emitted):
        due_ms = index * 50
        assert due_ms - 2 <= (stamp_ns - emitted[0]) / MS <= due_ms + 150, (index, emitted)
    assert arrivals[-1][0] - arrivals[0][0] >= 0.25


def test_info_log_has_one_line_per_request_and_no_prompt(start_sim) -> None:
    sim = start_sim(*("--load-delay", "0", "--ttft", "0", "--tps", "1000"))
    post(sim, "/api/generate", {"model": "llama3.2", "prompt": "secret-words", "stream": False})
    httpx.get(f"{sim.url}/api/tags", timeout=5)
    log = sim.log()
    assert "secret-words" not in log
    assert re.search(r"POST /api/generate 200 \d+\.\dms", log)
    assert re.search(r"GET /api/tags 200 \d+\.\dms", log)
