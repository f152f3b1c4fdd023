"""Settings of the simulator: the one place that defines every option.

Each option is both a command-line flag and an ``OLLAMA_SIM_*`` environment variable so that a
systemd unit, a container and a test can configure it the way that suits them; a flag wins over
the environment, which wins over the default. Values are validated before the server starts, with a
message that names the flag and the variable.
"""

from __future__ import annotations

import argparse
import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ENV_PREFIX = "OLLAMA_SIM_"


class ConfigError(ValueError):
    """A setting has a value the simulator cannot run with."""


@dataclass(frozen=True)
class ModelSpec:
    """A model the simulator pretends to have pulled, described like Ollama's ``/api/tags``."""

    name: str
    family: str = "llama"
    parameter_size: str = "3.2B"
    quantization_level: str = "Q4_K_M"
    size: int = 2_019_393_189

    @property
    def digest(self) -> str:
        """A stable fake digest, so clients that key on it see the same model across restarts."""
        return hashlib.sha256(self.name.encode()).hexdigest()


@dataclass(frozen=True)
class SimConfig:
    """Everything the server needs; built by :func:`load_config`, or directly in tests."""

    host: str = "127.0.0.1"
    port: int = 11434
    models: tuple[ModelSpec, ...] = (
        ModelSpec("llama3.2:latest"),
        ModelSpec("qwen2.5:0.5b", "qwen2", "494.03M", "Q4_K_M", 397_821_319),
    )
    answer: str = (
        "The sky looks blue because air molecules scatter the short blue wavelengths of "
        "sunlight much more strongly than the long red ones, so blue light reaches your eyes "
        "from every direction of the sky."
    )
    tokens_per_second: float = 20.0
    time_to_first_token: float = 0.1
    load_delay: float = 1.0
    keep_alive: float = 300.0
    max_queue: int = 512
    ollama_version: str = "0.9.0"
    log_level: str = "INFO"


_MODEL_KEYS = {
    "family": "family",
    "params": "parameter_size",
    "quant": "quantization_level",
    "size": "size",
}


def normalize_model_name(name: str) -> str:
    """Give a bare name Ollama's default ``:latest`` tag, as Ollama does when matching models."""
    last_part = name.rsplit("/", 1)[-1]
    return name if ":" in last_part else f"{name}:latest"


def parse_model(spec: str) -> ModelSpec:
    """Parse ``NAME[,family=F][,params=P][,quant=Q][,size=BYTES]`` into a :class:`ModelSpec`."""
    name, *pairs = spec.split(",")
    if not name or any(ch.isspace() for ch in name):
        raise ValueError(f"model name {name!r} is empty or contains whitespace")
    fields: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in _MODEL_KEYS or not value:
            expected = "family=, params=, quant= or size="
            raise ValueError(f"{pair!r} in {spec!r}: expected {expected}")
        fields[_MODEL_KEYS[key]] = value
    if "size" in fields:
        fields["size"] = _parse_int(fields["size"], minimum=0)
    return ModelSpec(normalize_model_name(name), **fields)


def parse_models(value: str) -> tuple[ModelSpec, ...]:
    """Parse whitespace-separated model specs; names must be unique once tagged."""
    models = tuple(parse_model(spec) for spec in value.split())
    if not models:
        raise ValueError("at least one model is required")
    names = [model.name for model in models]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate model names in {names}")
    return models


def _parse_float(value: str, *, minimum: float, allow_equal: bool = True) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a number") from None
    if not math.isfinite(number) or number < minimum or (number == minimum and not allow_equal):
        bound = ">=" if allow_equal else ">"
        raise ValueError(f"{value!r} must be a finite number {bound} {minimum:g}")
    return number


def _parse_seconds(value: str) -> float:
    return _parse_float(value, minimum=0)


def _parse_int(value: str, *, minimum: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an integer") from None
    if number < minimum:
        raise ValueError(f"{value!r} must be >= {minimum}")
    return number


def _parse_port(value: str) -> int:
    port = _parse_int(value, minimum=0)
    if port > 65535:
        raise ValueError(f"{value!r} is not a TCP port (0-65535; 0 picks a free one)")
    return port


def _parse_text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _parse_log_level(value: str) -> str:
    level = value.upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError(f"{value!r} is not one of DEBUG, INFO, WARNING, ERROR")
    return level


@dataclass(frozen=True)
class Option:
    """One setting: its field in :class:`SimConfig`, its flag, its parser and its help."""

    field: str
    flag: str
    parse: Callable[[str], Any]
    help: str

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.field.upper()


OPTIONS: tuple[Option, ...] = (
    Option("host", "--host", _parse_text, "address to listen on"),
    Option("port", "--port", _parse_port, "TCP port to listen on (0 picks a free one)"),
    Option(
        "models",
        "--models",
        parse_models,
        "models offered, whitespace-separated specs "
        "NAME[,family=F][,params=P][,quant=Q][,size=BYTES]",
    ),
    Option("answer", "--answer", _parse_text, "answer text, split into tokens at whitespace"),
    Option(
        "tokens_per_second",
        "--tps",
        lambda v: _parse_float(v, minimum=0, allow_equal=False),
        "decoding speed in tokens per second",
    ),
    Option(
        "time_to_first_token",
        "--ttft",
        _parse_seconds,
        "seconds of prompt evaluation before the first token",
    ),
    Option(
        "load_delay",
        "--load-delay",
        _parse_seconds,
        "seconds the first request for a model spends loading it",
    ),
    Option(
        "keep_alive",
        "--keep-alive",
        _parse_seconds,
        "seconds a model stays loaded after its last request (default for keep_alive)",
    ),
    Option(
        "max_queue",
        "--max-queue",
        lambda v: _parse_int(v, minimum=1),
        "concurrent generate/chat requests beyond which the simulator answers 503",
    ),
    Option("ollama_version", "--ollama-version", _parse_text, "version reported by /api/version"),
    Option("log_level", "--log-level", _parse_log_level, "DEBUG, INFO, WARNING or ERROR"),
)


def build_parser() -> argparse.ArgumentParser:
    """Build the command-line parser from :data:`OPTIONS`; values stay strings until validated."""
    parser = argparse.ArgumentParser(
        prog="python -m ollama_sim",
        description="Ollama-API-compatible simulator. Every flag also reads OLLAMA_SIM_<NAME>.",
    )
    defaults = SimConfig()
    for option in OPTIONS:
        default = getattr(defaults, option.field)
        shown = " ".join(m.name for m in default) if option.field == "models" else default
        parser.add_argument(
            option.flag,
            dest=option.field,
            metavar=option.field.upper(),
            help=f"{option.help} [env {option.env}, default {shown!r}]",
        )
    return parser


def load_config(argv: Sequence[str], environ: Mapping[str, str]) -> SimConfig:
    """Merge flags, environment and defaults into a validated :class:`SimConfig`.

    Raises :class:`ConfigError` naming the flag and the variable of the first bad value.
    """
    args = build_parser().parse_args(list(argv))
    values: dict[str, Any] = {}
    for option in OPTIONS:
        raw = getattr(args, option.field)
        if raw is None:
            raw = environ.get(option.env)
        if raw is None:
            continue
        try:
            values[option.field] = option.parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{option.flag} / {option.env}: {exc}") from None
    return SimConfig(**values)
