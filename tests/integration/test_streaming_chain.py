"""The app and the simulator as real processes: chunks flow through at once, and a cancel
travels back to the simulator.

These need no network beyond loopback and take a few seconds; they belong with the unit tests.
"""

import json
import time

import httpx
import pytest


def ask(webapp, question: str, stream: bool = True) -> dict:
    return {
        "url": f"{webapp.url}/api/ask",
        "json": {"question": question, "model": None, "stream": stream},
        "headers": {"Origin": webapp.url},
    }


def test_tokens_reach_the_client_as_the_simulator_emits_them(webapp, tokens_per_second):
    tokens = 20
    arrivals: list[tuple[int, dict]] = []
    with httpx.stream("POST", timeout=30, **ask(webapp, f"Why? [[sim:tokens={tokens}]]")) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            arrivals.append((time.time_ns(), json.loads(line)))
    kinds = [event["type"] for _, event in arrivals]
    assert kinds == ["meta"] + ["token"] * tokens + ["done"]
    assert arrivals[-1][1]["ollama"]["eval_count"] == tokens
    token_times = [(at, event) for at, event in arrivals if event["type"] == "token"]
    spread = (token_times[-1][0] - token_times[0][0]) / 1e9
    # 19 gaps at 20 tokens/s is 0.95 s; buffering would deliver them together at the end.
    assert spread >= 0.7 * (tokens - 1) / tokens_per_second
    lags = [(at - event["sim_emit_ns"]) / 1e6 for at, event in token_times]
    assert max(lags) < 250, f"a token waited {max(lags):.0f} ms between simulator and client"


def test_cancelling_a_stream_is_seen_by_the_simulator_within_a_second(webapp, simulator):
    with httpx.stream("POST", timeout=30, **ask(webapp, "Long [[sim:tokens=400]]")) as r:
        lines = r.iter_lines()
        meta = json.loads(next(lines))
        for _ in range(3):
            assert json.loads(next(lines))["type"] == "token"
        closed_at = time.time_ns()
    # Leaving the block closed the connection mid-stream, as a browser's abort does.
    deadline = time.monotonic() + 3
    seen = None
    while seen is None and time.monotonic() < deadline:
        stats = httpx.get(f"{simulator.url}/sim/stats", timeout=5).json()
        seen = next(
            (c for c in stats["cancellations"] if c.get("request_id") == meta["request_id"]),
            None,
        )
        time.sleep(0.02)
    assert seen is not None, "the simulator never saw the disconnect"
    assert (seen["at_ns"] - closed_at) / 1e9 < 1.0
    assert seen["after_tokens"] < 400


def test_complete_mode_returns_the_whole_answer(webapp):
    r = httpx.post(timeout=30, **ask(webapp, "Echo me [[sim:echo]]", stream=False))
    assert r.status_code == 200
    data = r.json()
    assert data["answer"].strip() == "Echo me"
    assert data["node"] == "web-it"
    assert data["ollama"]["done_reason"] == "stop"


@pytest.mark.parametrize(
    ("question", "model", "status", "code"),
    [
        ("q", "no-such-model", 404, "model_not_found"),
        ("q [[sim:queue_full]]", None, 503, "backend_busy"),
    ],
)
def test_simulator_faults_are_classified_end_to_end(webapp, question, model, status, code):
    request = ask(webapp, question)
    request["json"]["model"] = model
    r = httpx.post(timeout=30, **request)
    assert (r.status_code, r.json()["error"]["code"]) == (status, code)


def test_an_error_mid_stream_arrives_after_the_partial_answer(webapp):
    r = httpx.post(timeout=30, **ask(webapp, "q [[sim:error_after=3]]"))
    events = [json.loads(line) for line in r.text.splitlines()]
    assert [e["type"] for e in events] == ["meta", "token", "token", "token", "error"]
    assert events[-1]["code"] == "backend_error"
