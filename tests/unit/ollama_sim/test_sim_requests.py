"""Request validation and Ollama's keep_alive, without a server: Simulator.build_job is pure."""

from __future__ import annotations

from typing import Any

import pytest

from ollama_sim.config import SimConfig
from ollama_sim.server import RequestError, Simulator, parse_keep_alive


@pytest.fixture
def sim() -> Simulator:
    return Simulator(SimConfig(answer="one two three", keep_alive=300))


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(None, 300.0), (60, 60.0), (2.5, 2.5), ("45", 45.0), ("5m", 300.0), ("1h30m", 5400.0),
     ("250ms", 0.25), ("-1", -1.0), ("-1m", -60.0), ("0", 0.0)],
)  # fmt: skip
def test_keep_alive_accepts_seconds_and_go_durations(value: Any, seconds: float) -> None:
    assert parse_keep_alive(value, 300.0) == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["soon", "5x", "m5", True, [1]])
def test_keep_alive_rejects_other_values(value: Any) -> None:
    with pytest.raises(RequestError) as caught:
        parse_keep_alive(value, 300.0)
    assert caught.value.status == 400


def test_chat_counts_every_message_but_obeys_only_the_last_user_message(sim: Simulator) -> None:
    body = {
        "model": "llama3.2",
        "messages": [
            {"role": "user", "content": "earlier [[sim:not_a_directive]] words"},
            {"role": "assistant", "content": "reply"},
            {"role": "user", "content": "now [[sim:tokens=5]]"},
        ],
    }
    job = sim.build_job("chat", body, None)
    assert len(job.tokens) == 5
    assert len(job.prompt_tokens) == 4


def test_stream_defaults_to_true_and_null_means_default(sim: Simulator) -> None:
    assert sim.build_job("generate", {"model": "llama3.2", "prompt": "q"}, None).stream
    body = {"model": "llama3.2", "prompt": "q", "stream": None}
    assert sim.build_job("generate", body, None).stream


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"model": 5, "prompt": "q"}, 400),
        ({"model": "llama3.2", "prompt": "q", "stream": "yes"}, 400),
        ({"model": "llama3.2", "prompt": "q", "options": {"num_predict": "3"}}, 400),
        ({"model": "llama3.2", "prompt": "q", "keep_alive": "later"}, 400),
        ({"model": "llama3.2:70b", "prompt": "q"}, 404),
    ],
)
def test_invalid_requests_are_refused(sim: Simulator, body: dict[str, Any], status: int) -> None:
    with pytest.raises(RequestError) as caught:
        sim.build_job("generate", body, None)
    assert caught.value.status == status
