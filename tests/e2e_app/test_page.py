"""What a person sees: the answer streams in, timings add up, Stop and faults are clear,
model output stays text, and login guards the page when it is required."""

import json
import re
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

STREAMING = "!document.getElementById('stop').disabled"


# JS: the number of words in the answer so far.
WORDS = "document.getElementById('answer').textContent.trim().split(/\\s+/).filter(Boolean).length"


def timing(page: Page, term: str) -> Locator:
    """The value shown next to a timing's name."""
    timings = page.get_by_label("Timings")
    return (
        timings.locator("div")
        .filter(has=page.get_by_text(term, exact=True))
        .get_by_role("definition")
    )


def seconds(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+) (ms|s)", text).groups()
    return float(value) / (1000 if unit == "ms" else 1)


def ask(page: Page, url: str, question: str) -> None:
    page.goto(url)
    expect(page.get_by_label("Model")).not_to_have_value("")
    page.get_by_label("Question").fill(question)
    page.get_by_role("button", name="Submit").click()


def test_the_answer_streams_in_with_plausible_timings(page, webapp, tokens_per_second):
    tokens = 40
    ask(page, webapp.url, f"Why is the sky blue? [[sim:tokens={tokens}]]")
    result = page.get_by_role("region", name="Result")
    expect(result.get_by_text("Why is the sky blue?")).to_be_visible()
    answer = page.get_by_label("Answer", exact=True)
    # Two intermediate states, each seen while the stream is still running.
    page.wait_for_function(f"() => {WORDS} >= 3 && {STREAMING}")
    first = answer.text_content()
    page.wait_for_function(
        f"() => document.getElementById('answer').textContent.length > {len(first)} && {STREAMING}"
    )
    second = answer.text_content()
    expect(page.get_by_role("status")).to_have_text(re.compile(rf"Answer complete: {tokens} tok"))
    final = answer.text_content()
    assert first != second != final
    assert final.startswith(second) and second.startswith(first)
    assert len(final.split()) == tokens

    rtt = seconds(timing(page, "Round trip").text_content())
    ttft = seconds(timing(page, "First token").text_content())
    generation = seconds(timing(page, "Generation").text_content())
    total = seconds(timing(page, "Ollama total").text_content())
    overhead = seconds(timing(page, "Network + proxy").text_content())
    rate = float(timing(page, "Tokens/s").text_content())
    assert 0.8 * tokens_per_second <= rate <= 1.2 * tokens_per_second
    assert (tokens - 1) / tokens_per_second * 0.8 <= generation <= total <= rtt
    assert 0 < ttft < generation
    assert overhead == rtt - total or abs(overhead - (rtt - total)) < 0.02
    expect(page.get_by_text(re.compile(r"^Model load .* · decoding"))).to_be_visible()
    # The web machine, then the LLM machine (the simulator, on loopback) that answered.
    expect(page.get_by_text(re.compile(r"^served by \S+ · LLM 127\.0\.0\.1$"))).to_be_visible()


def test_stop_aborts_and_says_how_many_tokens_arrived(page, webapp):
    ask(page, webapp.url, "Tell me a long story [[sim:tokens=400]]")
    page.wait_for_function(f"() => {WORDS} >= 3")
    page.get_by_role("button", name="Stop").click()
    alert = page.get_by_role("alert")
    expect(alert).to_have_text(re.compile(r"^Stopped after \d+ tokens arrived\.$"))
    count = int(re.search(r"\d+", alert.text_content()).group())
    assert 3 <= count < 400
    expect(page.get_by_role("button", name="Submit")).to_be_enabled()
    expect(page.get_by_role("button", name="Stop")).to_be_disabled()
    assert len(page.get_by_label("Answer", exact=True).text_content().split()) == count


def test_a_fault_mid_stream_is_shown_and_the_partial_answer_kept(page, webapp):
    ask(page, webapp.url, "Explain [[sim:error_after=3]]")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("The model server failed during the answer")
    expect(alert).to_contain_text("(backend_error)")
    assert len(page.get_by_label("Answer", exact=True).text_content().split()) == 3
    expect(page.get_by_role("region", name="Result").get_by_text("Explain")).to_be_visible()
    expect(page.get_by_label("Question")).to_have_value("Explain [[sim:error_after=3]]")


def test_a_full_queue_is_a_clear_error(page, webapp):
    ask(page, webapp.url, "Hi [[sim:queue_full]]")
    expect(page.get_by_role("alert")).to_contain_text("busy")
    expect(page.get_by_role("alert")).to_contain_text("(backend_busy)")


def test_html_in_the_answer_stays_text_and_never_runs(page, webapp):
    payload = "<img src=x onerror=alert(1)>"
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    ask(page, webapp.url, f"{payload} [[sim:echo]]")
    expect(page.get_by_role("status")).to_have_text(re.compile("Answer complete"))
    answer = page.get_by_label("Answer", exact=True)
    expect(answer).to_contain_text(payload)
    expect(page.locator("img")).to_have_count(0)
    expect(page.get_by_role("region", name="Result").get_by_text(payload)).to_have_count(2)
    assert dialogs == []


def test_complete_mode_shows_the_whole_answer_at_once(page, webapp):
    page.goto(webapp.url)
    page.get_by_label("Complete").check()
    page.get_by_label("Question").fill("Repeat after me [[sim:echo]]")
    page.get_by_label("Question").press("Enter")
    expect(page.get_by_label("Answer", exact=True)).to_have_text("Repeat after me")
    expect(timing(page, "First token")).to_have_text("\u2013 (complete mode)")
    expect(timing(page, "Tokens/s")).to_have_text(re.compile(r"^\d+\.\d$"))


def test_shift_enter_makes_a_new_line_instead_of_sending(page, webapp):
    page.goto(webapp.url)
    question = page.get_by_label("Question")
    question.fill("line one")
    question.press("Shift+Enter")
    question.press_sequentially("line two")
    expect(question).to_have_value("line one\nline two")
    # Enter that confirms an input-method composition must not send either.
    question.dispatch_event("keydown", {"key": "Enter", "isComposing": True})
    expect(page.get_by_role("region", name="Result")).to_be_hidden()
    question.press("Enter")
    expect(page.get_by_role("region", name="Result")).to_be_visible()


def test_the_result_downloads_as_json(page, webapp):
    ask(page, webapp.url, "Export me [[sim:tokens=4]]")
    expect(page.get_by_role("status")).to_have_text(re.compile("Answer complete: 4 tokens"))
    with page.expect_download() as download:
        page.get_by_role("button", name="Download JSON").click()
    data = json.loads(Path(download.value.path()).read_text())
    assert data["question"] == "Export me [[sim:tokens=4]]"
    assert len(data["answer"].split()) == 4
    assert data["ollama"]["eval_count"] == 4
    assert data["timings"]["rtt_ms"] >= data["ollama"]["total_duration"] / 1e6
    assert data["node"] and data["request_id"]
    assert data["llm"] == "127.0.0.1"


def test_the_model_picker_lists_the_simulators_models(page, webapp):
    page.goto(webapp.url)
    expect(page.get_by_label("Model").get_by_role("option")).to_have_text(
        ["llama3.2:latest", "qwen2.5:0.5b"]
    )


def test_login_is_required_when_configured(page, secure_webapp, credentials):
    user, password = credentials
    page.goto(secure_webapp.url)
    expect(page).to_have_url(re.compile(r"/login$"))
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong user name or password.")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(secure_webapp.url + "/")
    ask(page, secure_webapp.url, "Hello [[sim:tokens=3]]")
    expect(page.get_by_role("status")).to_have_text(re.compile("Answer complete: 3 tokens"))
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
