"""A conversation in Chromium through HAProxy over TLS, with a real model: a follow-up goes with
the conversation it follows, both turns come back after a reload with their timings, and the
conversation can be deleted.

What the model says is not asserted (test_real_model.py does that): the follow-up needs the first
answer, and what proves that it was sent is what the page sends (the conversation's id with the
second question) and what the app kept (two turns of one conversation, in order, which the app
sends to the model as earlier turns).
"""

import json
import re
from pathlib import Path

from conftest import ask
from playwright.sync_api import Page, expect

QUESTIONS = ("What is the capital of France?", "Which country is that city in?")
ANSWERED_WITHIN_MS = 120_000
# A figure as the page shows one: "850 ms" or "1.23 s".
DURATION = re.compile(r"^\d+(\.\d+)? (ms|s)$")
ASK = "/api/ask"


def _get(page: Page, path: str) -> dict:
    """A GET made by the page itself (its session); returns the status and the body's text."""
    return page.evaluate(
        """async (path) => {
            const response = await fetch(path);
            return {status: response.status, body: await response.text()};
        }""",
        path,
    )


def _ask_and_wait(page: Page, model: str, question: str) -> dict:
    """Ask, wait for the complete answer; returns the JSON body the page sent to /api/ask."""
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith(ASK)) as sent:
        ask(page, model, question)
    expect(page.get_by_role("status")).to_have_text(
        re.compile(r"Answer complete"), timeout=ANSWERED_WITHIN_MS
    )
    return sent.value.post_data_json


def test_follow_up_is_kept_and_reopened_with_timings(
    logged_in: Page, real_model: str, artifacts_dir: Path
):
    """Ask, follow up, reload, reopen both turns with timings from the history, delete."""
    page = logged_in
    page.get_by_role("button", name="New conversation").click()
    first = _ask_and_wait(page, real_model, QUESTIONS[0])
    assert first.get("conversation") is None, first
    current = page.locator("[data-testid=history-item][aria-current=true]")
    expect(current).to_have_count(1)
    conversation = current.get_attribute("data-conversation")
    second = _ask_and_wait(page, real_model, QUESTIONS[1])
    assert str(second.get("conversation")) == conversation, second
    page.screenshot(path=artifacts_dir / "conversation-asked.png", full_page=True)

    stored = _get(page, f"/api/conversations/{conversation}")
    assert stored["status"] == 200, stored
    turns = json.loads(stored["body"])["turns"]
    assert [t["question"] for t in turns] == list(QUESTIONS)
    for turn in turns:
        assert (turn["status"], turn["mode"], turn["model"]) == ("done", "stream", real_model)
        assert turn["answer"].strip(), turn
        timings = turn["timings"]
        assert timings["first_token_ms"] > 0 and timings["total_ms"] > 0, timings
        assert timings["eval_count"] > 0 and timings["eval_duration_ms"] > 0, timings

    page.reload()
    item = page.locator(f"[data-testid=history-item][data-conversation='{conversation}']")
    expect(item.get_by_test_id("history-meta")).to_contain_text("2 turns")
    item.get_by_test_id("history-open").click()
    shown = page.get_by_test_id("thread").get_by_test_id("turn")
    expect(shown).to_have_count(2)
    for number, turn in enumerate(turns):
        expect(shown.nth(number).get_by_test_id("turn-question")).to_have_text(turn["question"])
        expect(shown.nth(number).get_by_test_id("turn-answer")).to_have_text(turn["answer"])
        figures = shown.nth(number).get_by_test_id("turn-timings")
        for term in ("Server time", "First token", "Generation"):
            figure = figures.locator("div").filter(has=page.get_by_text(term, exact=True))
            expect(figure.locator("dd")).to_have_text(DURATION)
    page.screenshot(path=artifacts_dir / "conversation-reopened.png", full_page=True)

    item.get_by_role("button", name="Delete", exact=True).click()
    expect(item).to_have_count(0)
    assert _get(page, f"/api/conversations/{conversation}")["status"] == 404
