"""The benchmark's arithmetic: the hop-by-hop split of an answer's time to first token."""

import pytest

from bench import stats

MS = stats.NS_PER_MS


def answer(ttft_ms: float, timing: dict[str, float], model_ms: float = 200.0) -> dict:
    """A stream result as the stream client reports it, sent at 0."""
    return {
        "sent_ns": 0,
        "first_token_ns": int(ttft_ms * MS),
        "load_ns": int(1 * MS),
        "prompt_eval_ns": int((model_ms - 1) * MS),
        "server_timing": timing,
    }


TIMING = {
    "lb-queue": 0.5,
    "lb-connect": 1.0,
    "app-handoff": 0.25,
    "app": 2.0,
    "app-gateway": 204.0,
    "gateway-auth": 1.0,
    "gateway": 202.5,
}


def test_the_split_accounts_for_the_whole_time_to_first_token_beyond_the_model() -> None:
    split = stats.hop_split(answer(210.0, TIMING))
    assert split == pytest.approx(
        {
            "HAProxy": 1.5,
            "hand-off": 0.25,
            "app": 2.0,
            "app-gateway": 1.5,
            "gw auth": 1.0,
            "gw-Ollama": 1.5,
            "other": 2.25,
        }
    )
    assert sum(split.values()) == pytest.approx(210.0 - 200.0)


def test_an_answer_without_every_hops_entry_has_no_split() -> None:
    timing = {k: v for k, v in TIMING.items() if k != "gateway-auth"}
    assert stats.hop_split(answer(210.0, timing)) is None
    assert stats.hop_split({**answer(210.0, TIMING), "first_token_ns": 0}) is None


def test_shares_are_percentiles_over_the_answers_with_a_split() -> None:
    results = [answer(210.0 + n, TIMING) for n in range(5)] + [answer(300.0, {})]
    shares = stats.hop_shares(results)
    assert shares["answers"] == 5
    assert shares["other"]["p50"] == pytest.approx(4.25)
    assert shares["app"] == {"p50": 2.0, "p99": 2.0}


def test_the_level_50_targets_are_judged() -> None:
    def level(path: str, ttft: float) -> dict:
        return {
            "path": path,
            "level": 50,
            "ttft_p50_ms": ttft,
            "ttft_p99_ms": ttft + 10,
            "delay_p50_ms": 0.1,
            "merged_reads": 0,
        }

    rows = {v.name: v for v in stats.verdicts([level("direct", 200.0), level("chain", 206.0)])}
    assert rows["TTFT added p50, level 50"].status == "miss by 1.00 ms"
    assert rows["TTFT added p99, level 50"].status == "pass"


def test_the_clients_cpu_time_while_a_stream_waited_is_taken_off_its_ttft() -> None:
    result = {
        **answer(210.0, TIMING),
        "ok": True,
        "error": "",
        "end_ns": int(300 * MS),
        "tokens": 1,
        "reads": 1,
        "merged_reads": 0,
        "served_by": "web1",
        "delays_ns": [],
        "gaps_ns": [],
        "connect_ns": 0,
        "sent_cpu_ns": int(5 * MS),
        "first_token_cpu_ns": int(8 * MS),
    }
    summary = stats.summarize("chain", 1, [result])
    assert summary["ttft_p50_ms"] == pytest.approx(210.0)
    assert summary["ttft_less_client_p50_ms"] == pytest.approx(207.0)
