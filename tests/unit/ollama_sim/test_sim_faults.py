"""Per-request fault directives, end to end over HTTP."""

from __future__ import annotations

import time

import httpx
from sim_harness import RunningSim, ndjson, raw_post

BUSY = "server busy, please try again. maximum pending requests exceeded"


def generate(sim: RunningSim, prompt: str, **extra: object) -> httpx.Response:
    body = {"model": "llama3.2", "prompt": prompt, **extra}
    return httpx.post(f"{sim.url}/api/generate", json=body, timeout=30)


def test_error_after_sends_an_error_line_with_status_200(fast_sim: RunningSim) -> None:
    response = generate(fast_sim, "q [[sim:error_after=2]]")
    assert response.status_code == 200
    chunks = ndjson(response.text)
    assert [c.get("response") for c in chunks[:2]] == ["The", " sky"]
    assert chunks[2]["error"] == "simulated error after 2 tokens"
    assert isinstance(chunks[2]["sim_emit_ns"], int)
    assert len(chunks) == 3
    assert not any(c.get("done") for c in chunks)


def test_error_after_without_stream_is_a_500(fast_sim: RunningSim) -> None:
    response = generate(fast_sim, "q [[sim:error_after=1]]", stream=False)
    assert response.status_code == 500
    assert response.json()["error"] == "simulated error after 1 tokens"


def test_queue_full_is_503_with_ollamas_message(fast_sim: RunningSim) -> None:
    before = fast_sim.stats()["rejected"]
    response = generate(fast_sim, "[[sim:queue_full]] q")
    assert response.status_code == 503
    assert response.json() == {"error": BUSY}
    assert fast_sim.stats()["rejected"] == before + 1


def test_tokens_sets_the_answer_length(fast_sim: RunningSim) -> None:
    body = generate(fast_sim, "q [[sim:tokens=45]]", stream=False).json()
    assert body["eval_count"] == 45
    assert len(body["response"].split()) == 45


def test_echo_answers_the_prompt_without_directives(fast_sim: RunningSim) -> None:
    chunks = ndjson(generate(fast_sim, "say <b>this</b> [[sim:echo]] please").text)
    assert "".join(c["response"] for c in chunks) == "say <b>this</b> please"


def test_chat_reads_directives_from_the_last_user_message(fast_sim: RunningSim) -> None:
    messages = [
        {"role": "user", "content": "old [[sim:queue_full]]"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "new words [[sim:echo]]"},
    ]
    response = httpx.post(
        f"{fast_sim.url}/api/chat",
        json={"model": "llama3.2", "messages": messages, "stream": False},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json()["message"]["content"] == "new words"


def test_tps_sets_the_speed(start_sim) -> None:
    sim = start_sim("--load-delay", "0", "--ttft", "0", "--tps", "1000")
    started = time.monotonic()
    body = generate(sim, "q [[sim:tokens=5]] [[sim:tps=20]]", stream=False).json()
    assert time.monotonic() - started >= 0.25
    assert 250_000_000 <= body["eval_duration"] < 600_000_000


def test_stall_delays_the_first_token(start_sim) -> None:
    sim = start_sim("--load-delay", "0", "--ttft", "0", "--tps", "1000")
    started = time.monotonic()
    with httpx.stream(
        "POST",
        f"{sim.url}/api/generate",
        json={"model": "llama3.2", "prompt": "q [[sim:stall=0.6]]"},
        timeout=10,
    ) as response:
        first_line = next(response.iter_lines())
        waited = time.monotonic() - started
    assert '"response":"The"' in first_line
    assert 0.5 <= waited < 1.5


def test_load_adds_to_load_duration_even_when_loaded(start_sim) -> None:
    sim = start_sim("--load-delay", "0", "--ttft", "0", "--tps", "1000")
    generate(sim, "warm", stream=False)
    body = generate(sim, "q [[sim:load=0.4]]", stream=False).json()
    assert 400_000_000 <= body["load_duration"] < 700_000_000


def test_a_slow_load_does_not_hold_up_other_requests(start_sim) -> None:
    sim = start_sim("--load-delay", "0", "--ttft", "0", "--tps", "1000")
    slow = raw_post(sim.url, "/api/generate", {"model": "llama3.2", "prompt": "[[sim:load=5]]"}, {})
    sim.wait_for_stats(lambda stats: stats["active"] == 1, 5)
    started = time.monotonic()
    assert generate(sim, "q", stream=False).status_code == 200
    assert time.monotonic() - started < 1
    slow.close()
