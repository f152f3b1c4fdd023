"""Conversations as a person uses them: follow-ups in one thread, a history that reopens each
conversation with its timings, deleting, and what the page says when an answer is not kept."""

import re
import time

from playwright.sync_api import Locator, Page, Route, expect

# What the page shows for a duration (see `ms` in app.js).
DURATION = re.compile(r"^\d+(\.\d\d)? m?s$")
WORDS = "document.getElementById('answer').textContent.trim().split(/\\s+/).filter(Boolean).length"
# JS: the server has stored a turn of some conversation of this user.
STORED = """async () => {
  const response = await fetch("/api/conversations");
  return (await response.json()).conversations.some((c) => c.turns > 0);
}"""


def submit(page: Page, question: str) -> dict:
    """Ask on the page as it stands; returns the body the page sent."""
    expect(page.get_by_label("Model")).not_to_have_value("")
    page.get_by_label("Question").fill(question)
    with page.expect_request("**/api/ask") as request:
        page.get_by_role("button", name="Submit").click()
    return request.value.post_data_json


def answered(page: Page, question: str) -> dict:
    """Ask and wait for the whole answer; returns the body the page sent."""
    body = submit(page, question)
    expect(page.get_by_role("status")).to_have_text(re.compile("^Answer complete"))
    return body


def figure(turn: Locator, term: str) -> Locator:
    """The value next to a term in a turn's timings."""
    return (
        turn.get_by_test_id("turn-timings")
        .locator("div")
        .filter(has=turn.page.get_by_text(term, exact=True))
        .get_by_role("definition")
    )


def history(page: Page) -> Locator:
    return page.get_by_test_id("history-item")


def test_a_follow_up_is_asked_in_the_same_conversation(logged_in: Page):
    page = logged_in
    expect(page.get_by_test_id("history-empty")).to_be_visible()
    first = answered(page, "Name a colour [[sim:tokens=5]]")
    assert first["conversation"] is None
    expect(history(page)).to_have_count(1)
    conversation = history(page).get_attribute("data-conversation")

    second = answered(page, "And another one? [[sim:tokens=3]]")
    assert str(second["conversation"]) == conversation

    turns = page.get_by_test_id("turn")
    expect(turns).to_have_count(2)
    expect(turns.nth(0).get_by_test_id("turn-question")).to_have_text(
        "Name a colour [[sim:tokens=5]]"
    )
    assert len(turns.nth(0).get_by_test_id("turn-answer").text_content().split()) == 5
    for term in ("Round trip", "Server time", "First token", "Generation", "Ollama total"):
        expect(figure(turns.nth(0), term)).to_have_text(DURATION)
    expect(figure(turns.nth(0), "Model")).to_have_text("llama3.2:latest")
    # The latest turn keeps the full view, and only its answer is "Answer".
    expect(turns.nth(1).get_by_role("region", name="Result")).to_contain_text("And another one?")
    expect(page.get_by_label("Answer", exact=True)).to_have_count(1)
    expect(history(page)).to_have_count(1)
    expect(history(page).get_by_test_id("history-meta")).to_contain_text("2 turns")
    expect(history(page)).to_have_attribute("aria-current", "true")


def test_a_conversation_reopens_from_the_history_with_its_timings(logged_in: Page):
    page = logged_in
    answered(page, "First question [[sim:tokens=4]]")
    page.get_by_label("Complete").check()
    answered(page, "Second question [[sim:tokens=6]]")
    page.reload()

    expect(page.get_by_test_id("conversation")).to_be_hidden()
    page.get_by_test_id("history-open").click()
    turns = page.get_by_test_id("turn")
    expect(turns).to_have_count(2)
    expect(page.get_by_role("region", name="Result")).to_have_count(0)
    for turn, question, words in ((turns.nth(0), "First", 4), (turns.nth(1), "Second", 6)):
        expect(turn).to_have_attribute("data-status", "done")
        expect(turn.get_by_test_id("turn-question")).to_contain_text(f"{question} question")
        assert len(turn.get_by_test_id("turn-answer").text_content().split()) == words
        for term in ("Server time", "Generation", "Ollama total"):
            expect(figure(turn, term)).to_have_text(DURATION)
        expect(figure(turn, "Model")).to_have_text("llama3.2:latest")
        # The browser's round trip was never stored, so a reopened turn does not claim one.
        expect(figure(turn, "Round trip")).to_have_count(0)
    expect(figure(turns.nth(0), "First token")).to_have_text(DURATION)
    expect(figure(turns.nth(1), "First token")).to_have_text("\u2013 (complete mode)")

    # A follow-up after reopening continues that conversation.
    conversation = history(page).get_attribute("data-conversation")
    assert str(answered(page, "Third question [[sim:tokens=2]]")["conversation"]) == conversation
    expect(turns).to_have_count(3)
    expect(history(page).get_by_test_id("history-meta")).to_contain_text("3 turns")


def test_new_conversation_starts_fresh_and_the_history_is_newest_first(logged_in: Page):
    page = logged_in
    answered(page, "Older [[sim:tokens=2]]")
    page.get_by_role("button", name="New conversation").click()
    expect(page.get_by_test_id("conversation")).to_be_hidden()
    expect(history(page)).not_to_have_attribute("aria-current", "true")

    assert answered(page, "Newer [[sim:tokens=2]]")["conversation"] is None
    expect(page.get_by_test_id("turn")).to_have_count(1)
    expect(history(page).get_by_test_id("history-open")).to_have_text(
        [re.compile("^Newer"), re.compile("^Older")]
    )
    expect(history(page).first).to_have_attribute("aria-current", "true")


def test_deleting_one_conversation_keeps_the_others(logged_in: Page):
    page = logged_in
    answered(page, "Keep me [[sim:tokens=2]]")
    page.get_by_role("button", name="New conversation").click()
    answered(page, "Delete me [[sim:tokens=2]]")
    expect(history(page)).to_have_count(2)

    with page.expect_request(lambda r: r.method == "DELETE") as request:
        history(page).filter(has_text="Delete me").get_by_role(
            "button", name="Delete", exact=True
        ).click()
    assert request.value.header_value("origin") == page.url.rstrip("/")
    expect(history(page)).to_have_count(1)
    expect(history(page)).to_contain_text("Keep me")
    # It was the open conversation, so the thread is gone with it.
    expect(page.get_by_test_id("conversation")).to_be_hidden()
    page.reload()
    expect(history(page).get_by_test_id("history-open")).to_have_text([re.compile("^Keep me")])


def test_deleting_everything_asks_first(logged_in: Page):
    page = logged_in
    answered(page, "One [[sim:tokens=2]]")
    page.get_by_role("button", name="New conversation").click()
    answered(page, "Two [[sim:tokens=2]]")
    dialog = page.get_by_test_id("confirm-delete-all")

    page.get_by_role("button", name="Delete all conversations").click()
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(history(page)).to_have_count(2)

    page.get_by_role("button", name="Delete all conversations").click()
    dialog.get_by_role("button", name="Delete everything").click()
    expect(history(page)).to_have_count(0)
    expect(page.get_by_test_id("history-empty")).to_be_visible()
    expect(page.get_by_test_id("conversation")).to_be_hidden()
    expect(page.get_by_role("button", name="Delete all conversations")).to_be_disabled()
    page.reload()
    expect(page.get_by_test_id("history-empty")).to_be_visible()
    expect(history(page)).to_have_count(0)


def test_a_stopped_answer_is_kept_as_far_as_it_got(logged_in: Page):
    page = logged_in
    submit(page, "Tell me a long story [[sim:tokens=400]]")
    page.wait_for_function(f"() => {WORDS} >= 3")
    page.get_by_role("button", name="Stop").click()
    turn = page.get_by_test_id("turn")
    expect(turn).to_have_attribute("data-status", "stopped")
    expect(turn.get_by_test_id("turn-status")).to_have_text("Stopped")
    shown = page.get_by_label("Answer", exact=True).text_content()

    # The server writes the turn when it notices the browser went away: wait for that.
    page.wait_for_function(STORED, polling=100)
    page.reload()
    page.get_by_test_id("history-open").click()
    expect(turn).to_have_attribute("data-status", "stopped")
    expect(turn.get_by_test_id("turn-status")).to_have_text("Stopped")
    # The server may have sent a few tokens more than the browser had shown when it stopped.
    stored = turn.get_by_test_id("turn-answer").text_content()
    assert stored.startswith(shown) and 3 <= len(stored.split()) < 400


def test_an_answer_that_could_not_be_saved_says_so(logged_in: Page):
    page = logged_in

    def unsaved(route: Route) -> None:
        response = route.fetch()
        body = response.text().replace('"saved":true', '"saved":false')
        route.fulfill(response=response, body=body)

    page.route("**/api/ask", unsaved)
    submit(page, "Remember this [[sim:tokens=3]]")
    expect(page.get_by_role("status")).to_have_text(re.compile("^Answer complete"))
    expect(page.get_by_role("alert")).to_have_text(
        "This answer could not be saved, so it will not be in your history."
    )
    expect(page.get_by_label("Answer", exact=True)).not_to_be_empty()


def test_the_page_recovers_by_itself_when_the_database_is_back(logged_in: Page):
    page = logged_in
    answered(page, "Before the outage [[sim:tokens=2]]")
    message = "The database is not reachable right now."
    refusals = []

    def outage(route: Route) -> None:
        if len(refusals) < 2:
            refusals.append(time.monotonic())
            body = {"error": {"code": "database_unavailable", "message": message}}
            route.fulfill(status=503, json=body, headers={"Retry-After": "1"})
        else:
            route.continue_()

    page.route("**/api/conversations", outage)
    page.reload()
    expect(page.get_by_role("alert")).to_contain_text(message)
    expect(history(page)).to_have_count(0)
    # No reload, no click: the page asks again after Retry-After and the message goes away.
    expect(history(page)).to_have_count(1)
    expect(page.get_by_role("alert")).to_be_hidden()
    assert len(refusals) == 2 and refusals[1] - refusals[0] >= 0.9
