"""A real model answers through HAProxy over TLS, in Chromium: relevant answers, streamed, with
Ollama's own timings, and Stop ends the generation on the LLM machine itself.

The model is the page's default unless the deployment runs the simulator and the default is one
of its models; then the first model no simulator serves. Nothing here steers the simulator.
"""

import json
import re
import time
from pathlib import Path

import pytest
from conftest import ask
from playwright.sync_api import Page, expect

# Questions any chat model answers, each with the word a relevant answer cannot do without.
QUESTIONS = [
    ("What is the capital of France?", re.compile(r"\bParis\b")),
    ("What is the capital of Japan?", re.compile(r"\bTokyo\b")),
]
# Long enough that a person presses Stop while it still streams.
LONG_QUESTION = "Write a long story about a lighthouse keeper and a storm, in many paragraphs."
# Ollama's runner uses whole cores while it generates; after Stop it must fall idle at once.
IDLE_TICKS_PER_SECOND = 10
STOPPED_WITHIN_S = 1.0
STREAMING = "!document.getElementById('stop').disabled"
ANSWER_LENGTH = "document.getElementById('answer').textContent.length"


def test_two_questions_get_two_relevant_answers(
    logged_in: Page, real_model: str, artifacts_dir: Path
):
    """Each question gets a non-empty answer about itself, and the two answers differ."""
    page = logged_in
    answers = []
    for number, (question, relevant) in enumerate(QUESTIONS, start=1):
        ask(page, real_model, question)
        expect(page.get_by_role("status")).to_have_text(
            re.compile(r"Answer complete"), timeout=120_000
        )
        expect(page.get_by_role("region", name="Result").get_by_text(question)).to_be_visible()
        answer = page.get_by_label("Answer", exact=True).text_content() or ""
        page.screenshot(path=artifacts_dir / f"real-model-answer-{number}.png", full_page=True)
        assert relevant.search(answer), f"{question!r} got an unrelated answer: {answer!r}"
        answers.append(answer)
    # Each answer is about its own question only: a canned answer would fit both or neither.
    for (_, other), answer in zip(QUESTIONS, reversed(answers), strict=True):
        assert not other.search(answer), f"an answer speaks of the other question: {answer!r}"


def test_answer_streams_with_ollamas_own_timings(logged_in: Page, real_model: str):
    """The answer grows in visible steps, and the page's generation time is Ollama's."""
    page = logged_in
    ask(page, real_model, "Write a short poem about the sea.")
    answer = page.get_by_label("Answer", exact=True)
    page.wait_for_function(f"() => {ANSWER_LENGTH} > 0 && {STREAMING}", timeout=120_000)
    first = answer.text_content() or ""
    page.wait_for_function(f"() => {ANSWER_LENGTH} > {len(first)} && {STREAMING}")
    expect(page.get_by_role("status")).to_have_text(re.compile(r"Answer complete"), timeout=120_000)
    assert (answer.text_content() or "").startswith(first)

    with page.expect_download() as download:
        page.get_by_role("button", name="Download JSON").click()
    exported = json.loads(Path(download.value.path()).read_text())
    ollama = exported["ollama"]
    assert ollama["eval_count"] > 0 and ollama["eval_duration"] > 0, ollama
    shown = page.get_by_label("Timings").locator("#t-eval").text_content()
    generation_ms = ollama["eval_duration"] / 1e6
    expected = (
        f"{round(generation_ms)} ms" if generation_ms < 1000 else f"{generation_ms / 1000:.2f} s"
    )
    assert shown == expected, f"the page shows {shown!r}, Ollama measured {expected!r}"


def test_stop_ends_the_generation_on_the_llm_machine(logged_in: Page, real_model: str, llm_side):
    """While the answer streams some LLM machine's runner is busy; after Stop every one is idle."""
    page = logged_in
    ask(page, real_model, LONG_QUESTION)
    page.wait_for_function(f"() => {ANSWER_LENGTH} > 20 && {STREAMING}", timeout=120_000)
    busy = llm_side.runner_ticks(0.5)
    assert max(busy.values()) > IDLE_TICKS_PER_SECOND / 2, f"no runner was generating: {busy}"

    page.get_by_role("button", name="Stop").click()
    expect(page.get_by_role("status")).to_have_text(re.compile(r"Stopped after \d+ tokens"))
    stopped_at = time.monotonic()
    time.sleep(STOPPED_WITHIN_S)  # what is measured is that the runner is idle after this
    idle = llm_side.runner_ticks(1.0)
    assert time.monotonic() - stopped_at < 30
    assert max(idle.values()) <= IDLE_TICKS_PER_SECOND, (
        f"a runner kept generating after Stop (CPU ticks per second by machine): {idle}"
    )


@pytest.fixture
def llm_side(deployment):
    """Reads the Ollama runners' CPU time on every LLM machine that runs real Ollama."""
    if deployment is None:
        pytest.skip("needs OLLAMA_QA_INVENTORY to read the LLM machines over SSH")
    return RunnerWatch(deployment)


class RunnerWatch:
    """CPU ticks (1/100 s) the machines' Ollama runner processes use over a time span."""

    def __init__(self, topology) -> None:
        simulator = topology.simulator
        self.topology = topology
        self.machines = [m for m in topology.llm if not simulator or m != simulator.machine]

    def runner_ticks(self, seconds: float) -> dict[str, int]:
        return {m.name: self.topology.runner_ticks(m, seconds) for m in self.machines}
