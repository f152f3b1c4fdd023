"""Settings: flags, OLLAMA_SIM_* variables, defaults, and messages for bad values."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ollama_sim.config import (
    OPTIONS,
    ConfigError,
    ModelSpec,
    SimConfig,
    load_config,
    normalize_model_name,
    parse_models,
)


def test_defaults_apply_without_flags_or_environment() -> None:
    assert load_config([], {}) == SimConfig()


def test_environment_sets_a_value() -> None:
    config = load_config([], {"OLLAMA_SIM_TOKENS_PER_SECOND": "7.5", "OLLAMA_SIM_MAX_QUEUE": "3"})
    assert (config.tokens_per_second, config.max_queue) == (7.5, 3)


def test_flag_wins_over_environment() -> None:
    config = load_config(["--tps", "9"], {"OLLAMA_SIM_TOKENS_PER_SECOND": "7.5"})
    assert config.tokens_per_second == 9.0


def test_every_option_has_a_flag_and_a_variable_for_a_real_field() -> None:
    fields = set(SimConfig.__dataclass_fields__)
    assert {option.field for option in OPTIONS} == fields
    assert all(option.env == f"OLLAMA_SIM_{option.field.upper()}" for option in OPTIONS)


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--tps", "0"], "--tps / OLLAMA_SIM_TOKENS_PER_SECOND"),
        (["--tps", "fast"], "--tps / OLLAMA_SIM_TOKENS_PER_SECOND"),
        (["--ttft", "-1"], "--ttft / OLLAMA_SIM_TIME_TO_FIRST_TOKEN"),
        (["--load-delay", "nan"], "--load-delay / OLLAMA_SIM_LOAD_DELAY"),
        (["--max-queue", "0"], "--max-queue / OLLAMA_SIM_MAX_QUEUE"),
        (["--port", "70000"], "--port / OLLAMA_SIM_PORT"),
        (["--answer", "  "], "--answer / OLLAMA_SIM_ANSWER"),
        (["--models", "a:1 a:1"], "--models / OLLAMA_SIM_MODELS"),
        (["--models", "a,colour=red"], "--models / OLLAMA_SIM_MODELS"),
        (["--log-level", "loud"], "--log-level / OLLAMA_SIM_LOG_LEVEL"),
    ],
)
def test_bad_value_is_refused_naming_flag_and_variable(argv: list[str], named: str) -> None:
    with pytest.raises(ConfigError, match=f"^{named}: "):
        load_config(argv, {})


def test_bad_environment_value_is_refused() -> None:
    with pytest.raises(ConfigError, match="OLLAMA_SIM_MAX_QUEUE"):
        load_config([], {"OLLAMA_SIM_MAX_QUEUE": "many"})


def test_model_specs_parse_with_details_and_default_tag() -> None:
    models = parse_models("llama3.2 qwen2.5:0.5b,family=qwen2,params=494M,quant=Q8_0,size=42")
    assert models == (
        ModelSpec("llama3.2:latest"),
        ModelSpec("qwen2.5:0.5b", "qwen2", "494M", "Q8_0", 42),
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("llama3.2", "llama3.2:latest"),
        ("llama3.2:1b", "llama3.2:1b"),
        ("registry.example:5000/ns/model", "registry.example:5000/ns/model:latest"),
    ],
)
def test_bare_names_get_the_latest_tag(name: str, expected: str) -> None:
    assert normalize_model_name(name) == expected


def test_command_line_error_exits_2_with_the_message() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ollama_sim", "--tps", "-3"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "ollama-sim: error: --tps / OLLAMA_SIM_TOKENS_PER_SECOND" in result.stderr
