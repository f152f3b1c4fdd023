"""Ollama's JSON shapes as pure functions: formats and units that clients parse."""

from __future__ import annotations

import json
from datetime import datetime

from ollama_sim.payloads import (
    answer_tokens,
    encode_prefix,
    final_chunk,
    rfc3339,
    stamp,
    tokenize,
)


def test_rfc3339_keeps_nanoseconds_and_trims_zeros_like_go() -> None:
    assert rfc3339(1_700_000_000_123_456_789) == "2023-11-14T22:13:20.123456789Z"
    assert rfc3339(1_700_000_000_500_000_000) == "2023-11-14T22:13:20.5Z"
    assert rfc3339(1_700_000_000_000_000_000) == "2023-11-14T22:13:20Z"


def test_rfc3339_parses_as_the_same_instant() -> None:
    parsed = datetime.fromisoformat(rfc3339(1_700_000_000_250_000_000))
    assert parsed.timestamp() == 1_700_000_000.25


def test_tokens_keep_their_whitespace_so_joining_restores_the_text() -> None:
    text = "Hello,  world\nagain"
    assert tokenize(text) == ["Hello,", "  world", "\nagain"]
    assert "".join(tokenize(text)) == text


def test_answer_length_repeats_or_cuts_the_text() -> None:
    assert answer_tokens("a b", 5) == ["a", " b", " a", " b", " a"]
    assert answer_tokens("a b c", 2) == ["a", " b"]
    assert len(answer_tokens("", 3)) == 3


def test_stamp_appends_emit_time_as_the_last_field() -> None:
    line = stamp(encode_prefix({"response": "x", "done": False}))
    assert line.endswith(b"}\n")
    body = json.loads(line)
    assert list(body) == ["response", "done", "sim_emit_ns"]
    assert isinstance(body["sim_emit_ns"], int)


def test_final_chunk_has_context_only_for_generate() -> None:
    common = {
        "done_reason": "stop",
        "durations": {"total": 4, "load": 1, "prompt_eval": 2, "eval": 1},
        "prompt_eval_count": 1,
        "eval_count": 2,
        "context": [1, 2, 3],
    }
    generate = final_chunk("generate", "m", "", **common)
    chat = final_chunk("chat", "m", "", **common)
    assert generate["context"] == [1, 2, 3]
    assert "context" not in chat
    assert chat["message"] == {"role": "assistant", "content": ""}
    assert (generate["total_duration"], generate["load_duration"]) == (4, 1)
    assert (generate["prompt_eval_duration"], generate["eval_duration"]) == (2, 1)
