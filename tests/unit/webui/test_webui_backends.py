"""Several LLM machines: routing by model, spreading the load, failing over, and the model list."""

import json
import threading
import time
from wsgiref.validate import validator

import httpx
import pytest
from webui_fakes import (
    JSON,
    FakeClock,
    FakeMachines,
    FakeOllama,
    ask_body,
    call,
    chunk,
    environ_for,
)

from webui.backends import canonical_model, machine_names

HOLD = 5.0
TTL = 3.0
GATEWAY_PAGE = "<html><body><h1>Service Unavailable</h1></body></html>"


@pytest.fixture
def llm1() -> FakeOllama:
    return FakeOllama(models=["m1", "m2"])


@pytest.fixture
def llm2() -> FakeOllama:
    return FakeOllama(models=["m1", "m3"])


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def machines(llm1, llm2) -> FakeMachines:
    return FakeMachines(llm1=llm1, llm2=llm2)


@pytest.fixture
def app(make_app, machines, clock):
    """The app in front of two LLM machines, with the machines' time in the test's hands."""
    return make_app(
        ollama_url=machines.urls(),
        transport=machines.transport(),
        backend_clock=clock,
        backend_hold_seconds=HOLD,
        models_cache_seconds=TTL,
    )


def asked(fake: FakeOllama) -> int:
    """How many questions reached this machine's /api/chat."""
    return fake.paths().count("/api/chat")


def ask(app, model: str = "m1", stream: bool = True):
    return call(app, "POST", "/api/ask", ask_body(model=model, stream=stream), JSON)


def answered_by(result) -> str:
    """The LLM machine the app says answered (meta event, or the complete answer)."""
    assert result.status == 200, result.body
    if result.headers["content-type"] == "application/x-ndjson":
        events = result.events()
        assert events[-1]["type"] == "done", events[-1]
        return events[0]["llm"]
    return result.json()["llm"]


def start_stream(app, model: str = "m1"):
    """A streamed answer that has sent its meta event and stays open until closed."""
    environ = environ_for("POST", "/api/ask", ask_body(model=model), JSON)
    body = validator(app)(environ, lambda status, headers, exc_info=None: None)
    events = iter(body)
    return body, json.loads(next(events))


def in_flight(app) -> list[int]:
    return [backend.in_flight for backend in app.backends.backends]


@pytest.mark.parametrize(("model", "machine"), [("m2", "llm1"), ("m3", "llm2")])
@pytest.mark.parametrize("stream", [True, False])
def test_a_question_goes_to_a_machine_that_serves_its_model(
    app, llm1, llm2, model, machine, stream
):
    for _ in range(3):
        assert answered_by(ask(app, model, stream)) == machine
    serving, other = (llm1, llm2) if machine == "llm1" else (llm2, llm1)
    assert (asked(serving), asked(other)) == (3, 0)


def test_a_name_without_a_tag_is_the_latest(app, llm2):
    llm2.models = ["m1", "llama3.2:latest"]
    assert answered_by(ask(app, "llama3.2")) == "llm2"
    assert json.loads(llm2.requests[-1].content)["model"] == "llama3.2"


def test_a_model_no_machine_serves_is_404_without_asking_any(app, llm1, llm2):
    result = ask(app, "m9")
    assert (result.status, result.json()["error"]["code"]) == (404, "model_not_found")
    assert '"m9"' in result.json()["error"]["message"]
    assert asked(llm1) + asked(llm2) == 0


def test_equal_machines_take_turns(app, llm1, llm2):
    machines = [answered_by(ask(app, stream=False)) for _ in range(4)]
    assert sorted(machines) == ["llm1", "llm1", "llm2", "llm2"]
    assert (asked(llm1), asked(llm2)) == (2, 2)


def test_the_machine_with_fewer_questions_in_flight_goes_first(app):
    first, meta = start_stream(app)
    try:
        busy = meta["llm"]
        assert in_flight(app).count(1) == 1
        # Taking turns alone would send one of these to the busy machine.
        others = {answered_by(ask(app, stream=False)) for _ in range(3)}
        assert others == {"llm1", "llm2"} - {busy}
        second, meta2 = start_stream(app)
        assert meta2["llm"] != busy
        second.close()
    finally:
        first.close()
    assert in_flight(app) == [0, 0]


@pytest.mark.parametrize(
    ("failure", "status", "body", "tried"),
    [
        (httpx.ConnectError("refused"), 200, None, 1),
        (httpx.ConnectTimeout("no answer"), 200, None, 1),
        (None, 502, GATEWAY_PAGE, 1),
        (None, 503, GATEWAY_PAGE, 1),
        (None, 504, GATEWAY_PAGE, 1),
        # Ollama's own "queue full": another machine is what the user wants, and the busy one
        # is not left out, so it is tried again on its next turn (see backends.py).
        (
            None,
            503,
            {"error": "server busy, please try again. maximum pending requests exceeded"},
            2,
        ),
    ],
    ids=["refused", "connect-timeout", "502", "503", "504", "ollama-busy"],
)
@pytest.mark.parametrize("stream", [True, False])
def test_a_question_the_first_machine_cannot_take_is_answered_by_the_next(
    app, llm1, llm2, failure, status, body, tried, stream
):
    llm1.failing_path = "/api/chat"
    llm1.exception, llm1.status = failure, status
    if body is not None:
        llm1.error_body = body
    results = [ask(app, stream=stream) for _ in range(4)]
    assert [answered_by(r) for r in results] == ["llm2"] * 4
    # Turns start at llm1; a machine that is down is left out after its first failure.
    assert asked(llm1) == tried
    assert asked(llm2) == 4
    assert in_flight(app) == [0, 0]


def test_the_gateways_own_503_leaves_its_machine_out(app, llm1, llm2):
    """Its JSON body looks like Ollama's "queue full"; the gateway's mark tells them apart."""
    llm1.failing_path = "/api/chat"
    llm1.status = 503
    llm1.error_body = {"error": "The LLM gateway cannot reach Ollama on its machine."}
    llm1.headers = {"X-LLM-Gateway-Error": "true"}
    results = [ask(app) for _ in range(4)]
    assert [answered_by(r) for r in results] == ["llm2"] * 4
    assert asked(llm1) == 1


def test_a_machine_that_went_down_fails_over_with_its_models_still_listed(app, llm1, llm2):
    assert call(app, "GET", "/api/models").status == 200  # both lists are cached now
    llm1.exception = httpx.ConnectError("refused")
    assert answered_by(ask(app, "m1")) == "llm2"
    assert asked(llm1) == 1
    # m2 only llm1 serves: the answer is its failure, not "no such model".
    result = ask(app, "m2")
    assert (result.status, result.json()["error"]["code"]) == (502, "backend_unreachable")


@pytest.mark.parametrize("failure", ["error_line", "timeout"])
def test_no_other_machine_is_asked_once_a_token_was_sent(app, llm1, llm2, failure):
    if failure == "error_line":
        llm1.chunks = [chunk("a"), {"error": "out of memory"}]
    else:
        llm1.fail_after = 1
    result = ask(app)
    events = result.events()
    assert events[0]["llm"] == "llm1"  # the first turn is the first machine's
    assert [e["type"] for e in events] == ["meta", "token", "error"]
    assert asked(llm2) == 0
    assert in_flight(app) == [0, 0]


@pytest.mark.parametrize(
    ("status", "code"), [(401, "backend_auth"), (500, "backend_error"), (404, "model_not_found")]
)
def test_failures_another_machine_would_repeat_are_not_moved(app, llm1, llm2, status, code):
    llm1.failing_path = "/api/chat"
    llm1.status = status
    result = ask(app)
    assert result.json()["error"]["code"] == code
    assert (asked(llm1), asked(llm2)) == (1, 0)


def test_a_machine_that_never_listed_its_models_passes_on_a_model_it_lacks(app, llm1, llm2):
    # Neither machine has said what it serves: llm1 lacks every model, llm2's list failed.
    llm1.status = 404
    llm1.error_body = {"error": "model 'm3' not found"}
    llm2.failing_path = "/api/tags"
    llm2.status = 500
    # Taking turns offers one of the two questions to llm1 first; it goes on to llm2.
    assert [answered_by(ask(app, "m3")) for _ in range(2)] == ["llm2", "llm2"]
    assert asked(llm1) == 1


def test_a_failed_machine_is_left_out_for_its_hold_then_asked_again(app, llm1, llm2, clock):
    llm1.failing_path = "/api/chat"
    llm1.exception = httpx.ConnectError("refused")
    assert answered_by(ask(app)) == "llm2"
    assert asked(llm1) == 1
    clock.advance(HOLD - 0.1)
    # Two questions: taking turns alone would offer one of them to llm1 first.
    assert [answered_by(ask(app)) for _ in range(2)] == ["llm2", "llm2"]
    assert asked(llm1) == 1
    llm1.exception = None
    clock.advance(0.2)
    assert sorted(answered_by(ask(app)) for _ in range(2)) == ["llm1", "llm2"]
    assert asked(llm1) == 2


def test_a_held_out_machine_is_still_tried_when_no_other_can_answer(app, llm1, llm2, clock):
    for machine in (llm1, llm2):
        machine.failing_path = "/api/chat"
        machine.exception = httpx.ConnectError("refused")
    result = ask(app)
    assert (result.status, result.json()["error"]["code"]) == (502, "backend_unreachable")
    llm1.exception = None  # back, within its hold
    assert answered_by(ask(app)) == "llm1"
    # Its answer ended its hold; llm2's goes on, so llm2 is not offered questions before it.
    llm2.exception = None
    assert [answered_by(ask(app)) for _ in range(2)] == ["llm1", "llm1"]


def test_busy_is_the_answer_when_no_machine_can_take_the_question(app, llm1, llm2):
    llm1.failing_path = llm2.failing_path = "/api/chat"
    llm1.exception = httpx.ConnectError("refused")
    llm2.status = 503
    llm2.headers = {"Retry-After": "4"}
    result = ask(app)
    assert (result.status, result.json()["error"]["code"]) == (503, "backend_busy")
    assert result.headers["retry-after"] == "4"


def test_models_are_the_union_of_every_machine_in_a_stable_order(app):
    result = call(app, "GET", "/api/models")
    assert result.json() == {"models": [{"name": n} for n in ("m1", "m2", "m3")], "default": "m1"}


def test_the_default_model_comes_first(make_app, machines):
    app = make_app(ollama_url=machines.urls(), transport=machines.transport(), default_model="m3")
    result = call(app, "GET", "/api/models").json()
    assert ([m["name"] for m in result["models"]], result["default"]) == (["m3", "m1", "m2"], "m3")


def test_models_leave_out_a_machine_that_is_down(app, llm2):
    llm2.exception = httpx.ConnectError("refused")
    result = call(app, "GET", "/api/models")
    assert result.status == 200
    assert [m["name"] for m in result.json()["models"]] == ["m1", "m2"]


def test_models_fail_only_when_no_machine_answers(app, llm1, llm2):
    llm1.exception = llm2.exception = httpx.ConnectError("refused")
    result = call(app, "GET", "/api/models")
    assert (result.status, result.json()["error"]["code"]) == (502, "backend_unreachable")


def wait_until(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_model_lists_are_kept_for_the_cache_time(app, llm1, clock):
    call(app, "GET", "/api/models")
    llm1.models = ["m1", "m2", "m4"]
    clock.advance(TTL - 0.1)
    assert "m4" not in str(call(app, "GET", "/api/models").body)
    assert ask(app, "m4").status == 404
    assert llm1.paths().count("/api/tags") == 1
    clock.advance(0.2)
    # The request that finds the list old is answered with it, and the list is asked meanwhile.
    call(app, "GET", "/api/models")
    wait_until(lambda: "m4" in str(call(app, "GET", "/api/models").body))
    assert llm1.paths().count("/api/tags") == 2


def test_readyz_is_ready_while_one_machine_answers_and_names_each(make_app, machines, llm1):
    app = make_app(
        ollama_url=machines.urls(), transport=machines.transport(), ollama_token="secret-token-1"
    )
    llm1.exception = httpx.ConnectError("refused")
    result = call(app, "GET", "/readyz")
    assert result.status == 200
    states = {state["name"]: state for state in result.json()["backends"]}
    assert (states["llm1"]["status"], states["llm2"]["status"]) == ("unready", "ready")
    assert states["llm1"]["reason"]["code"] == "backend_unreachable"
    assert result.json()["ollama_version"] == "0.0.0-fake"
    assert b"secret-token-1" not in result.body


def test_readyz_is_unready_when_no_machine_answers(app, llm1, llm2):
    llm1.status = llm2.status = 401
    result = call(app, "GET", "/readyz")
    assert (result.status, result.json()["reason"]["code"]) == (503, "backend_auth")
    assert len(result.json()["backends"]) == 2


def test_a_slow_model_list_holds_up_no_question(app, llm1, clock):
    call(app, "GET", "/api/models")
    clock.advance(TTL + 1)
    llm1.tags_gate = threading.Event()
    asking = threading.Thread(target=call, args=(app, "GET", "/api/models"))
    asking.start()
    try:
        wait_until(lambda: llm1.paths().count("/api/tags") == 2)
        asking.join(timeout=2)
        assert not asking.is_alive(), "the question that found the list old waited for the new one"
        # Another thread meanwhile goes on with the lists there are, without waiting.
        other: list = []
        thread = threading.Thread(target=lambda: other.append(call(app, "GET", "/api/models")))
        thread.start()
        thread.join(timeout=2)
        assert other and other[0].status == 200, "the second thread waited for the first's list"
        assert llm1.paths().count("/api/tags") == 2
    finally:
        llm1.tags_gate.set()
        asking.join(timeout=5)


@pytest.mark.parametrize(
    ("urls", "names"),
    [
        (["https://10.0.1.11:8443", "https://10.0.1.12:8443"], ["10.0.1.11", "10.0.1.12"]),
        (["http://127.0.0.1:1", "http://127.0.0.1:2"], ["127.0.0.1:1", "127.0.0.1:2"]),
        (["https://gw/", "https://gw:8443", "http://x"], ["gw:443", "gw:8443", "x"]),
    ],
)
def test_machines_are_named_by_host_and_by_port_where_hosts_repeat(urls, names):
    assert machine_names(urls) == names


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("llama3.2", "llama3.2:latest"),
        ("smollm2:135m", "smollm2:135m"),
        ("registry.local:5000/team/model", "registry.local:5000/team/model:latest"),
    ],
)
def test_canonical_model_names_add_latest(name, canonical):
    assert canonical_model(name) == canonical


def test_a_question_asks_for_old_model_lists_once_it_has_ended(app, llm1, llm2, clock):
    """Asking as it starts would compete with the question for its first token."""
    ask(app)
    clock.advance(TTL + 1)
    body, meta = start_stream(app)
    try:
        assert meta["type"] == "meta"
        time.sleep(0.1)
        assert llm1.paths().count("/api/tags") == 1, "a question's start asked for old lists"
    finally:
        body.close()
    wait_until(lambda: [m.paths().count("/api/tags") for m in (llm1, llm2)] == [2, 2])
