"""Ollama's JSON shapes, as pure functions of their inputs.

Kept apart from the server so the field names, types and units (durations in nanoseconds,
timestamps in RFC 3339 with nanoseconds like Go prints them) can be checked without any I/O.
"""

from __future__ import annotations

import json
import re
import time
import zlib
from itertools import cycle, islice
from typing import Any

from ollama_sim.config import ModelSpec

BUSY_MESSAGE = "server busy, please try again. maximum pending requests exceeded"
# Ollama reports a context window with each running model; this is the default it loads with.
CONTEXT_LENGTH = 4096
# A vocabulary size for the fake token ids in ``context``.
_VOCABULARY = 32_000

_TOKEN = re.compile(r"\s*\S+")


def rfc3339(ns: int) -> str:
    """Format a wall-clock time in ns like Go's RFC3339Nano in UTC (trailing zeros trimmed)."""
    seconds, fraction = divmod(ns, 1_000_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    digits = f"{fraction:09d}".rstrip("0")
    return f"{stamp}.{digits}Z" if digits else f"{stamp}Z"


def tokenize(text: str) -> list[str]:
    """Split text into word tokens that keep their leading whitespace, so joining restores it."""
    return _TOKEN.findall(text)


def answer_tokens(text: str, count: int | None) -> list[str]:
    """The tokens of ``text``, repeated or cut to ``count`` when a length is asked for."""
    tokens = tokenize(text)
    if count is None or count <= len(tokens):
        return tokens[:count]
    # Repeats start with a space so that words do not run together across the seam.
    repeat = [f" {tokens[0].lstrip()}", *tokens[1:]] if tokens else [" ..."]
    return tokens + list(islice(cycle(repeat), count - len(tokens)))


def token_ids(tokens: list[str]) -> list[int]:
    """Stable fake token ids, so ``context`` looks like Ollama's list of ints."""
    return [zlib.crc32(token.encode()) % _VOCABULARY for token in tokens]


def not_found_message(model: str) -> str:
    """Ollama's message for a model that has not been pulled."""
    return f'model "{model}" not found, try pulling it first'


def model_details(model: ModelSpec) -> dict[str, Any]:
    """The ``details`` object shared by ``/api/tags`` and ``/api/ps``."""
    return {
        "parent_model": "",
        "format": "gguf",
        "family": model.family,
        "families": [model.family],
        "parameter_size": model.parameter_size,
        "quantization_level": model.quantization_level,
    }


def tags_entry(model: ModelSpec, modified_ns: int) -> dict[str, Any]:
    """One model in ``/api/tags``."""
    return {
        "name": model.name,
        "model": model.name,
        "modified_at": rfc3339(modified_ns),
        "size": model.size,
        "digest": model.digest,
        "details": model_details(model),
    }


def ps_entry(model: ModelSpec, expires_ns: int) -> dict[str, Any]:
    """One loaded model in ``/api/ps``; the simulator claims it sits fully in VRAM."""
    return {
        "name": model.name,
        "model": model.name,
        "size": model.size,
        "digest": model.digest,
        "details": model_details(model),
        "expires_at": rfc3339(expires_ns),
        "size_vram": model.size,
        "context_length": CONTEXT_LENGTH,
    }


def content_chunk(kind: str, model: str, text: str, done: bool) -> dict[str, Any]:
    """A generate (``response``) or chat (``message``) object carrying ``text``."""
    body: dict[str, Any] = {"model": model, "created_at": rfc3339(time.time_ns())}
    if kind == "chat":
        body["message"] = {"role": "assistant", "content": text}
    else:
        body["response"] = text
    body["done"] = done
    return body


def final_chunk(
    kind: str,
    model: str,
    text: str,
    *,
    done_reason: str,
    durations: dict[str, int],
    prompt_eval_count: int,
    eval_count: int,
    context: list[int] | None,
) -> dict[str, Any]:
    """The ``done: true`` object with Ollama's metrics; ``context`` only for generate."""
    body = content_chunk(kind, model, text, done=True)
    body["done_reason"] = done_reason
    if kind == "generate" and context is not None:
        body["context"] = context
    body.update(
        total_duration=durations["total"],
        load_duration=durations["load"],
        prompt_eval_count=prompt_eval_count,
        prompt_eval_duration=durations["prompt_eval"],
        eval_count=eval_count,
        eval_duration=durations["eval"],
    )
    return body


def encode_prefix(body: dict[str, Any]) -> bytes:
    """Serialize ``body`` without its closing brace, ready for :func:`stamp`."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()[:-1]


def stamp(prefix: bytes) -> bytes:
    """Close a prefix with ``sim_emit_ns`` taken now, so the stamp is the last thing before a write.

    The benchmark subtracts it from the arrival time of each line to measure the delay the chain
    adds, so it is taken after all the serialization work.
    """
    return prefix + b',"sim_emit_ns":%d}\n' % time.time_ns()
