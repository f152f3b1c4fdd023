"""Compatibility with the official ``ollama`` Python client from PyPI."""

from __future__ import annotations

import ollama
import pytest
from sim_harness import RunningSim


@pytest.fixture
def client(fast_sim: RunningSim) -> ollama.Client:
    return ollama.Client(host=fast_sim.url, timeout=30)


def test_list_returns_the_configured_models(client: ollama.Client) -> None:
    models = client.list().models
    assert [m.model for m in models] == ["llama3.2:latest", "qwen2.5:0.5b"]
    assert models[0].details.parameter_size == "3.2B"
    assert models[0].size == 2_019_393_189
    assert models[0].modified_at is not None


def test_generate_not_streamed(client: ollama.Client) -> None:
    response = client.generate(model="llama3.2", prompt="hello [[sim:tokens=4]]")
    assert response.done is True and response.done_reason == "stop"
    assert response.response == "The sky looks blue"
    assert response.eval_count == 4 and response.total_duration > 0
    assert response.context


def test_generate_streamed(client: ollama.Client) -> None:
    parts = list(client.generate(model="llama3.2", prompt="a b c [[sim:echo]]", stream=True))
    assert "".join(p.response for p in parts) == "a b c"
    assert [p.done for p in parts] == [False, False, False, True]
    assert parts[-1].eval_count == 3 and parts[-1].prompt_eval_count == 3


def test_chat_not_streamed(client: ollama.Client) -> None:
    response = client.chat(
        model="qwen2.5:0.5b", messages=[{"role": "user", "content": "hi [[sim:echo]]"}]
    )
    assert response.message.role == "assistant"
    assert response.message.content == "hi"
    assert response.done_reason == "stop" and response.eval_duration > 0


def test_chat_streamed(client: ollama.Client) -> None:
    parts = list(
        client.chat(
            model="llama3.2",
            messages=[{"role": "user", "content": "x [[sim:tokens=5]]"}],
            stream=True,
        )
    )
    assert len(parts) == 6
    assert "".join(p.message.content for p in parts) == "The sky looks blue because"
    assert parts[-1].done is True and parts[-1].eval_count == 5


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize(
    ("model", "prompt", "status", "message"),
    [
        ("nope", "q", 404, 'model "nope" not found, try pulling it first'),
        ("llama3.2", "q [[sim:queue_full]]", 503, "server busy, please try again."),
    ],
    ids=["unknown-model", "queue-full"],
)
def test_errors_raise_response_error_with_status(
    client: ollama.Client, model: str, prompt: str, status: int, message: str, stream: bool
) -> None:
    with pytest.raises(ollama.ResponseError) as caught:
        result = client.generate(model=model, prompt=prompt, stream=stream)
        if stream:
            list(result)
    assert caught.value.status_code == status
    assert caught.value.error.startswith(message)


def test_chat_unknown_model_raises_404(client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as caught:
        client.chat(model="missing:1b", messages=[{"role": "user", "content": "q"}])
    assert caught.value.status_code == 404


def test_mid_stream_error_raises_after_the_partial_answer(client: ollama.Client) -> None:
    received: list[str] = []
    with pytest.raises(ollama.ResponseError, match="simulated error after 2 tokens"):
        for part in client.generate(
            model="llama3.2", prompt="q [[sim:error_after=2]]", stream=True
        ):
            received.append(part.response)
    assert received == ["The", " sky"]
