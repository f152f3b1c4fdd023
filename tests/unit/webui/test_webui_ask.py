"""/api/ask: event order, no buffering, cancellation reaching upstream, errors, limits."""

import io
import json
import time
from wsgiref.validate import validator

import httpx
import pytest
from webui_fakes import DONE, JSON, ask_body, call, chunk, environ_for

from deploykit.probes.stream_client import server_timing
from webui.app import read_body
from webui.ollama import METRICS


def test_stream_events_come_in_order(app):
    result = call(app, "POST", "/api/ask", ask_body(), JSON)
    assert result.status == 200
    assert result.headers["content-type"] == "application/x-ndjson"
    events = result.events()
    assert [e["type"] for e in events] == ["meta", "token", "token", "token", "done"]
    assert events[0]["node"] == "web-test"
    assert events[0]["model"] == "m1"
    assert len(events[0]["request_id"]) == 32
    assert "".join(e["text"] for e in events if e["type"] == "token") == "Hello!"


def test_each_event_is_its_own_chunk(app):
    # One yielded chunk per event is what lets the server flush each one.
    result = call(app, "POST", "/api/ask", ask_body(), JSON)
    assert len(result.chunks) == 5
    assert all(c.endswith(b"\n") and c.count(b"\n") == 1 for c in result.chunks)


def test_done_carries_ollama_durations_and_app_timings(app):
    done = call(app, "POST", "/api/ask", ask_body(), JSON).events()[-1]
    assert done["ollama"] == {k: DONE[k] for k in done["ollama"]}
    assert set(done["ollama"]) == {*METRICS, "done_reason"}
    assert 0 <= done["app"]["first_token_ms"] <= done["app"]["total_ms"]


def test_sim_emit_ns_is_passed_through_only_when_present(app):
    tokens = [e for e in call(app, "POST", "/api/ask", ask_body(), JSON).events() if "text" in e]
    assert [t.get("sim_emit_ns") for t in tokens] == [None, 123, None]


@pytest.mark.parametrize("stream", [True, False])
def test_the_question_and_model_go_to_ollama_chat(app, fake, stream):
    result = call(app, "POST", "/api/ask", ask_body("Hi?", model="m2", stream=stream), JSON)
    request = fake.requests[-1]
    assert request.url.path == "/api/chat"
    messages = [{"role": "user", "content": "Hi?"}]
    assert json.loads(request.content) == {"model": "m2", "messages": messages, "stream": stream}
    assert request.headers["x-request-id"] == result.headers["x-request-id"]


def test_a_missing_model_uses_ollamas_first(app, fake):
    events = call(app, "POST", "/api/ask", ask_body(model=None), JSON).events()
    assert events[0]["model"] == "m1"
    assert json.loads(fake.requests[-1].content)["model"] == "m1"


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "complete"])
def test_server_timing_has_the_app_spans_and_passes_on_the_gateways(app, fake, stream):
    fake.headers = {
        "server-timing": "gateway-auth;dur=0000.412, gateway;dur=0003.5, "
        'evil;dur=1, gateway-x;desc="<script>";dur=2, gateway;dur=abc'
    }
    header = call(app, "POST", "/api/ask", ask_body(stream=stream), JSON).headers["server-timing"]
    entries = server_timing(header)
    assert list(entries) == ["app", "app-gateway", "gateway-auth", "gateway"], header
    assert entries["gateway-auth"] == 0.412 and entries["gateway"] == 3.5
    assert entries["app"] >= 0 and entries["app-gateway"] >= 0


def test_server_timing_has_mod_wsgis_hand_off_when_it_says_when_apache_accepted(app):
    environ = environ_for("POST", "/api/ask", ask_body(stream=False), JSON)
    environ["mod_wsgi.request_start"] = str(int(time.time() * 1e6) - 2500)
    seen = {}
    app(environ, lambda status, headers, exc_info=None: seen.update(headers=dict(headers)))
    entries = server_timing(seen["headers"]["Server-Timing"])
    assert 2.5 <= entries["app-handoff"] < 1000


def start_stream(app):
    environ = environ_for("POST", "/api/ask", ask_body(), JSON)
    body = validator(app)(environ, lambda status, headers, exc_info=None: None)
    return body, iter(body)


def test_each_upstream_chunk_is_forwarded_before_the_next_is_read(app, fake):
    body, events = start_stream(app)
    stream = fake.streams[-1]
    try:
        assert json.loads(next(events))["type"] == "meta"
        assert stream.pulled == 0
        assert json.loads(next(events))["text"] == "Hel"
        assert stream.pulled == 1
        assert json.loads(next(events))["text"] == "lo"
        assert stream.pulled == 2
    finally:
        body.close()


def test_closing_mid_stream_closes_the_upstream_response(app, fake):
    body, events = start_stream(app)
    next(events)
    next(events)
    assert not fake.streams[-1].closed
    body.close()
    assert fake.streams[-1].closed
    assert fake.streams[-1].pulled == 1


def test_closing_before_iteration_still_closes_the_upstream_response(app, fake):
    body, _ = start_stream(app)
    body.close()
    assert fake.streams[-1].closed


def test_stream_false_returns_one_object(app):
    result = call(app, "POST", "/api/ask", ask_body(stream=False), JSON)
    data = result.json()
    assert result.status == 200
    assert data["answer"] == "Hello!"
    assert data["question"] == "Why is the sky blue?"
    assert (data["node"], data["model"]) == ("web-test", "m1")
    assert data["ollama"]["eval_count"] == 3
    assert data["app"]["total_ms"] >= data["app"]["upstream_ms"]
    assert "app-gateway;dur=" in result.headers["server-timing"]


@pytest.mark.parametrize(
    ("status", "code", "answer"),
    [
        (401, "backend_auth", 502),
        (403, "backend_auth", 502),
        (404, "model_not_found", 404),
        (503, "backend_busy", 503),
        (500, "backend_error", 502),
    ],
)
@pytest.mark.parametrize("stream", [True, False])
def test_upstream_statuses_are_classified(app, fake, status, code, answer, stream):
    fake.status = status
    result = call(app, "POST", "/api/ask", ask_body(stream=stream), JSON)
    assert result.status == answer
    assert result.json()["error"]["code"] == code
    assert result.json()["error"]["message"].endswith((".", ")", "boom"))


def test_model_not_found_quotes_ollama(app, fake):
    fake.status = 404
    fake.error_body = {"error": 'model "x" not found, try pulling it first'}
    message = call(app, "POST", "/api/ask", ask_body(), JSON).json()["error"]["message"]
    assert 'model "x" not found' in message


def test_queue_full_passes_retry_after(app, fake):
    fake.status = 503
    assert call(app, "POST", "/api/ask", ask_body(), JSON).headers["retry-after"] == "1"
    fake.headers = {"Retry-After": "7"}
    assert call(app, "POST", "/api/ask", ask_body(), JSON).headers["retry-after"] == "7"


@pytest.mark.parametrize(
    ("exception", "status", "code"),
    [
        (httpx.ConnectError("refused"), 502, "backend_unreachable"),
        (httpx.ConnectTimeout("slow"), 502, "backend_unreachable"),
        (httpx.ReadTimeout("slow"), 504, "backend_timeout"),
        (httpx.RemoteProtocolError("reset"), 502, "backend_unreachable"),
    ],
)
def test_transport_failures_are_classified(app, fake, exception, status, code):
    fake.exception = exception
    result = call(app, "POST", "/api/ask", ask_body(), JSON)
    assert (result.status, result.json()["error"]["code"]) == (status, code)


def test_error_line_mid_stream_becomes_an_error_event_after_the_tokens(app, fake):
    fake.chunks = [chunk("a"), chunk("b"), {"error": "out of memory"}]
    events = call(app, "POST", "/api/ask", ask_body(), JSON).events()
    assert [e["type"] for e in events] == ["meta", "token", "token", "error"]
    assert events[-1]["code"] == "backend_error"
    assert "out of memory" in events[-1]["message"]


def test_a_timeout_mid_stream_becomes_a_timeout_event(app, fake):
    fake.fail_after = 2
    events = call(app, "POST", "/api/ask", ask_body(), JSON).events()
    assert [e["type"] for e in events] == ["meta", "token", "token", "error"]
    assert events[-1]["code"] == "backend_timeout"


def test_a_stream_cut_short_ends_with_an_error(app, fake):
    fake.chunks = [chunk("a")]
    events = call(app, "POST", "/api/ask", ask_body(), JSON).events()
    assert [e["type"] for e in events] == ["meta", "token", "error"]
    assert events[-1]["code"] == "backend_error"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (ask_body(""), "empty_question"),
        (ask_body("  \n "), "empty_question"),
        (b'{"model": "m1"}', "empty_question"),
        (b"{not json", "invalid_json"),
        (b"[1, 2]", "invalid_json"),
        (b"\xff\xfe", "invalid_json"),
        (b"[" * 5000 + b"]" * 5000, "invalid_json"),  # deeper than Python's recursion limit
        (ask_body(question=42), "invalid_field"),
        (ask_body(model=7), "invalid_field"),
        (ask_body(stream="yes"), "invalid_field"),
    ],
)
def test_bad_questions_are_400_with_a_code(app, fake, body, code):
    result = call(app, "POST", "/api/ask", body, JSON)
    assert (result.status, result.json()["error"]["code"]) == (400, code)
    assert fake.requests == []


def test_an_empty_body_is_invalid_json(app):
    result = call(app, "POST", "/api/ask", b"", JSON)
    assert (result.status, result.json()["error"]["code"]) == (400, "invalid_json")


def test_a_too_long_question_is_413(make_app):
    app = make_app(max_question_chars=10)
    assert call(app, "POST", "/api/ask", ask_body("x" * 10), JSON).status == 200
    result = call(app, "POST", "/api/ask", ask_body("x" * 11), JSON)
    assert (result.status, result.json()["error"]["code"]) == (413, "too_large")


def test_a_too_large_body_is_413_before_reading(make_app):
    class Untouchable(io.BytesIO):
        def read(self, *args):
            raise AssertionError("the body was read")

    app = make_app(max_body_bytes=100)
    environ = environ_for("POST", "/api/ask", b"", JSON)
    environ["CONTENT_LENGTH"] = "101"
    environ["wsgi.input"] = Untouchable()
    statuses = []
    body = validator(app)(environ, lambda s, h, e=None: statuses.append(s))
    body.close()
    assert statuses == ["413 Request Entity Too Large"]


def test_the_body_is_read_only_up_to_content_length():
    stream = io.BytesIO(b'{"a": 1}GARBAGE')
    assert read_body({"CONTENT_LENGTH": "8", "wsgi.input": stream}, 100) == b'{"a": 1}'
    assert stream.tell() == 8


@pytest.mark.parametrize("length", ["abc", "-1"])
def test_a_broken_content_length_is_400(app, length):
    environ = environ_for("POST", "/api/ask", b"{}", JSON)
    environ["CONTENT_LENGTH"] = length
    seen = []
    body = app(environ, lambda s, h, e=None: seen.append(s))
    assert seen == ["400 Bad Request"]
    assert json.loads(b"".join(body))["error"]["code"] == "invalid_field"


def test_other_media_types_are_415(app):
    result = call(app, "POST", "/api/ask", ask_body(), {"Content-Type": "text/plain"})
    assert (result.status, result.json()["error"]["code"]) == (415, "unsupported_media_type")


def test_json_with_charset_is_accepted(app):
    headers = {"Content-Type": "application/json; charset=utf-8"}
    assert call(app, "POST", "/api/ask", ask_body(), headers).status == 200


def test_the_gateways_own_503_says_ollama_is_not_running(app, fake):
    fake.status = 503
    fake.error_body = {"error": "The LLM gateway cannot reach Ollama on its machine."}
    fake.headers = {"X-LLM-Gateway-Error": "true"}
    result = call(app, "POST", "/api/ask", ask_body(), JSON)
    assert (result.status, result.json()["error"]["code"]) == (503, "backend_unreachable")
    assert "not running" in result.json()["error"]["message"]
