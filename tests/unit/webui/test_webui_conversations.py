"""Conversations through the HTTP API: follow-ups with context, turns kept as they ended (done,
stopped, failed) exactly once, the history routes, one user's conversations out of another's
reach, and what the app says while the database is unavailable."""

import json
from urllib.parse import urlencode
from wsgiref.validate import validator

import pytest
from webui_fakes import FORM, JSON, PASSWORD, ask_body, call, chunk, environ_for

from webui.app import TITLE_CHARS
from webui.auth import SESSION_COOKIE
from webui.store import DatabaseUnavailable


def ask(app, question="Why is the sky blue?", headers=None, **fields):
    return call(app, "POST", "/api/ask", ask_body(question, **fields), {**JSON, **(headers or {})})


def sent_messages(fake) -> list[dict[str, str]]:
    """The messages of the last question that reached Ollama."""
    return json.loads(fake.requests[-1].content)["messages"]


def conversation(app, id, headers=None):
    result = call(app, "GET", f"/api/conversations/{id}", headers=headers)
    assert result.status == 200, result.body
    return result.json()


def start_stream(app, body):
    environ = environ_for("POST", "/api/ask", body, JSON)
    response = validator(app)(environ, lambda status, headers, exc_info=None: None)
    return response, iter(response)


# --- asking in a conversation


def test_a_question_without_a_conversation_starts_one(app):
    events = ask(app).events()
    meta, done = events[0], events[-1]
    assert len(meta["conversation"]) >= 20
    assert meta["turn"] == meta["request_id"]
    assert done["saved"] is True
    found = conversation(app, meta["conversation"])
    assert found["title"] == "Why is the sky blue?"
    [turn] = found["turns"]
    assert turn["id"] == meta["turn"]
    assert (turn["question"], turn["answer"]) == ("Why is the sky blue?", "Hello!")
    assert (turn["model"], turn["mode"], turn["status"], turn["error"]) == (
        "m1",
        "stream",
        "done",
        None,
    )
    assert (turn["node"], turn["llm"]) == ("web-test", meta["llm"])
    assert turn["timings"] == {
        "first_token_ms": done["app"]["first_token_ms"],
        "total_ms": done["app"]["total_ms"],
        "eval_count": 3,
        "eval_duration_ms": 600.0,
        "total_duration_ms": 900.0,
    }


def test_a_follow_up_gets_the_earlier_turns_as_context(app, fake):
    first = ask(app, "What is 2+2?").events()[0]["conversation"]
    events = ask(app, "And doubled?", conversation=first).events()
    assert events[0]["conversation"] == first
    assert sent_messages(fake) == [
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "And doubled?"},
    ]
    assert [t["question"] for t in conversation(app, first)["turns"]] == [
        "What is 2+2?",
        "And doubled?",
    ]


def test_a_new_conversation_starts_without_context(app, fake):
    ask(app, "First")
    ask(app, "Fresh start", conversation=None)
    assert sent_messages(fake) == [{"role": "user", "content": "Fresh start"}]


def test_the_context_is_at_most_the_configured_number_of_turns(make_app, fake):
    app = make_app(history_turns=1)
    first = ask(app, "one").events()[0]["conversation"]
    ask(app, "two", conversation=first)
    ask(app, "three", conversation=first)
    assert [m["content"] for m in sent_messages(fake)] == ["two", "Hello!", "three"]


def test_a_complete_answer_is_kept_as_such(app):
    data = ask(app, stream=False).json()
    assert data["saved"] is True
    assert data["turn"] == data["request_id"]
    [turn] = conversation(app, data["conversation"])["turns"]
    assert (turn["mode"], turn["status"], turn["answer"]) == ("complete", "done", "Hello!")
    assert turn["timings"]["first_token_ms"] is None
    assert turn["timings"]["eval_count"] == 3
    follow_up = ask(app, "More?", stream=False, conversation=data["conversation"]).json()
    assert follow_up["conversation"] == data["conversation"]


def test_a_long_first_question_makes_a_short_title(app):
    meta = ask(app, "word " * 100 + "\nsecond line").events()[0]
    title = conversation(app, meta["conversation"])["title"]
    assert len(title) <= TITLE_CHARS
    assert title.startswith("word word ")
    assert title.endswith("word…")


# --- answers that did not end well


def test_an_answer_the_reader_stopped_is_kept_as_far_as_it_got(app, fake):
    body, events = start_stream(app, ask_body())
    meta = json.loads(next(events))
    assert json.loads(next(events))["text"] == "Hel"
    body.close()
    [turn] = conversation(app, meta["conversation"])["turns"]
    assert (turn["status"], turn["answer"]) == ("stopped", "Hel")
    assert turn["timings"]["first_token_ms"] is not None
    assert turn["timings"]["eval_count"] is None


def test_an_answer_stopped_before_it_began_is_kept_empty(app):
    body, _ = start_stream(app, ask_body())
    body.close()
    [listed] = call(app, "GET", "/api/conversations").json()["conversations"]
    [turn] = conversation(app, listed["id"])["turns"]
    assert (turn["status"], turn["answer"]) == ("stopped", "")


def test_a_stopped_answer_with_text_is_context_and_an_empty_one_is_not(app, fake):
    body, events = start_stream(app, ask_body("First"))
    first = json.loads(next(events))["conversation"]
    next(events)
    body.close()
    ask(app, "Second", conversation=first)
    assert [m["content"] for m in sent_messages(fake)] == ["First", "Hel", "Second"]


def test_an_answer_the_model_broke_off_is_kept_as_failed(app, fake):
    fake.chunks = [chunk("par"), chunk("tial"), {"error": "out of memory"}]
    events = ask(app).events()
    assert events[-1]["type"] == "error"
    [turn] = conversation(app, events[0]["conversation"])["turns"]
    assert (turn["status"], turn["answer"]) == ("failed", "partial")
    assert "out of memory" in turn["error"]


def test_a_failed_turn_is_not_context(app, fake):
    fake.chunks = [chunk("par"), {"error": "boom"}]
    first = ask(app, "First").events()[0]["conversation"]
    fake.chunks = [chunk("ok"), {"done": True}]
    ask(app, "Second", conversation=first)
    assert sent_messages(fake) == [{"role": "user", "content": "Second"}]


def test_a_question_the_model_refused_leaves_no_conversation(app, fake):
    fake.status = 404
    assert ask(app).status == 404
    assert ask(app, stream=False).status == 404
    assert call(app, "GET", "/api/conversations").json() == {"conversations": []}


def test_a_refused_follow_up_leaves_the_conversation_as_it_was(app, fake):
    first = ask(app).events()[0]["conversation"]
    fake.status = 503
    assert ask(app, conversation=first).status == 503
    assert len(conversation(app, first)["turns"]) == 1


# --- the history routes


def test_the_list_is_newest_first_with_turn_counts(app):
    a = ask(app, "a").events()[0]["conversation"]
    b = ask(app, "b").events()[0]["conversation"]
    ask(app, "a again", conversation=a)
    listed = call(app, "GET", "/api/conversations").json()["conversations"]
    assert [(c["id"], c["title"], c["turns"]) for c in listed] == [(a, "a", 2), (b, "b", 1)]
    assert all(isinstance(c[k], float) for c in listed for k in ("created_at", "updated_at"))


def test_a_conversation_is_deleted_once(app, fake):
    first = ask(app).events()[0]["conversation"]
    result = call(app, "DELETE", f"/api/conversations/{first}")
    assert (result.status, result.json()) == (200, {"deleted": 1})
    result = call(app, "DELETE", f"/api/conversations/{first}")
    assert (result.status, result.json()["error"]["code"]) == (404, "conversation_not_found")
    asked = len(fake.requests)
    result = ask(app, conversation=first)
    assert (result.status, result.json()["error"]["code"]) == (404, "conversation_not_found")
    assert len(fake.requests) == asked


def test_all_conversations_are_deleted_at_once(app):
    for question in ("a", "b", "c"):
        ask(app, question)
    result = call(app, "DELETE", "/api/conversations")
    assert (result.status, result.json()) == (200, {"deleted": 3})
    assert call(app, "GET", "/api/conversations").json() == {"conversations": []}


@pytest.mark.parametrize("id", ["nope", "a" * 65, "bad.id", "%2e%2e", "x/y"])
def test_unknown_or_malformed_ids_are_not_found(app, fake, id):
    for method in ("GET", "DELETE"):
        result = call(app, method, f"/api/conversations/{id}")
        assert (result.status, result.json()["error"]["code"]) == (404, "conversation_not_found")
    result = ask(app, conversation=id)
    assert (result.status, result.json()["error"]["code"]) == (404, "conversation_not_found")
    assert fake.requests == []


@pytest.mark.parametrize("value", [7, ["x"], {"id": "x"}, True])
def test_a_conversation_that_is_not_an_id_is_400(app, value):
    result = ask(app, conversation=value)
    assert (result.status, result.json()["error"]["code"]) == (400, "invalid_field")


@pytest.mark.parametrize(
    ("method", "path"), [("PUT", "/api/conversations"), ("POST", "/api/conversations/x")]
)
def test_other_methods_on_conversations_are_405(app, method, path):
    result = call(app, method, path)
    assert (result.status, result.headers["allow"]) == (405, "GET, DELETE")


# --- users


@pytest.fixture
def users(make_app):
    """Alice and Bob logged in to two web machines on one database."""
    machines = [make_app(require_login=True, node_name=f"web-{n}") for n in (1, 2)]
    sessions = {}
    for name, machine in zip(("alice", "bob"), machines, strict=True):
        machine.accounts.add(name, PASSWORD)
        body = urlencode({"username": name, "password": PASSWORD}).encode()
        cookie = call(machine, "POST", "/login", body, FORM).headers["set-cookie"]
        sessions[name] = {"Cookie": cookie.split(";")[0]}
    return machines, sessions


def test_one_user_never_reaches_anothers_conversation(users, fake):
    (web1, web2), sessions = users
    alices = ask(web1, "secret plans", sessions["alice"]).events()[0]["conversation"]
    bob = sessions["bob"]
    assert call(web2, "GET", "/api/conversations", headers=bob).json() == {"conversations": []}
    for method in ("GET", "DELETE"):
        result = call(web2, method, f"/api/conversations/{alices}", headers=bob)
        assert (result.status, result.json()["error"]["code"]) == (404, "conversation_not_found")
    asked = len(fake.requests)
    result = ask(web2, "continue", bob, conversation=alices)
    assert (result.status, result.json()["error"]["code"]) == (404, "conversation_not_found")
    assert len(fake.requests) == asked
    assert call(web2, "DELETE", "/api/conversations", headers=bob).json() == {"deleted": 0}
    assert len(conversation(web2, alices, sessions["alice"])["turns"]) == 1


def test_a_conversation_goes_on_from_any_machine(users, fake):
    (web1, web2), sessions = users
    first = ask(web1, "What is 2+2?", sessions["alice"]).events()[0]["conversation"]
    events = ask(web2, "And doubled?", sessions["alice"], conversation=first).events()
    assert events[-1]["saved"] is True
    assert len(sent_messages(fake)) == 3
    assert [t["node"] for t in conversation(web1, first, sessions["alice"])["turns"]] == [
        "web-1",
        "web-2",
    ]


# --- the database unavailable


class Outage:
    """Makes some of the store's methods fail as an unreachable database does."""

    def __init__(self, monkeypatch, store, *names, times=None):
        self.left = times
        for name in names:
            real = getattr(store, name)
            monkeypatch.setattr(store, name, self.wrap(real))

    def wrap(self, real):
        def failing(*args, **kwargs):
            if self.left is None or self.left > 0:
                if self.left is not None:
                    self.left -= 1
                raise DatabaseUnavailable("the database is unavailable: connection refused")
            return real(*args, **kwargs)

        return failing


STORE_METHODS = (
    "session",
    "create_conversation",
    "history",
    "conversations",
    "conversation",
    "delete_conversation",
    "delete_conversations",
    "save_turn",
    "failure_times",
)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/ask", ask_body()),
        ("GET", "/api/conversations", b""),
        ("DELETE", "/api/conversations", b""),
        ("GET", "/api/conversations/abc", b""),
        ("DELETE", "/api/conversations/abc", b""),
    ],
)
def test_apis_answer_503_while_the_database_is_unavailable(
    app, fake, monkeypatch, method, path, body
):
    Outage(monkeypatch, app.store, *STORE_METHODS)
    result = call(app, method, path, body, JSON)
    assert result.status == 503
    assert result.json()["error"]["code"] == "database_unavailable"
    assert "database" in result.json()["error"]["message"]
    assert result.headers["retry-after"] == "5"
    assert fake.requests == []


def test_a_follow_up_is_refused_before_the_model_is_asked(app, fake, monkeypatch):
    first = ask(app).events()[0]["conversation"]
    asked = len(fake.requests)
    Outage(monkeypatch, app.store, *STORE_METHODS)
    assert ask(app, conversation=first).status == 503
    assert len(fake.requests) == asked


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/", b""),
        ("POST", "/login", urlencode({"username": "alice", "password": "pw"}).encode()),
        ("POST", "/logout", b""),
    ],
)
def test_pages_say_the_database_is_unavailable(make_app, monkeypatch, method, path, body):
    app = make_app(require_login=True)
    Outage(monkeypatch, app.store, *STORE_METHODS, "delete_session")
    headers = {**FORM, "Cookie": f"{SESSION_COOKIE}=some-token"}
    result = call(app, method, path, body, headers)
    assert result.status == 503
    assert result.headers["content-type"] == "text/html; charset=utf-8"
    assert result.headers["retry-after"] == "5"
    assert "The database is not available right now." in result.body.decode()


def test_the_login_form_and_the_assets_need_no_database(make_app, monkeypatch):
    app = make_app(require_login=True)
    Outage(monkeypatch, app.store, *STORE_METHODS)
    assert call(app, "GET", "/login").status == 200
    assert call(app, "GET", "/static/app.js").status == 200
    assert call(app, "GET", "/healthz").status == 200


def test_a_turn_is_kept_when_the_database_comes_back_within_the_retries(app, monkeypatch):
    app.save_seconds = 2.0
    Outage(monkeypatch, app.store, "save_turn", times=2)
    events = ask(app).events()
    assert events[-1]["saved"] is True
    assert len(conversation(app, events[0]["conversation"])["turns"]) == 1


def test_a_turn_that_cannot_be_written_says_so(app, monkeypatch):
    outage = Outage(monkeypatch, app.store, "save_turn")
    events = ask(app).events()
    assert events[-1]["type"] == "done"
    assert events[-1]["saved"] is False
    assert ask(app, stream=False).json()["saved"] is False
    outage.left = 0
    [listed, _] = call(app, "GET", "/api/conversations").json()["conversations"]
    assert listed["turns"] == 0


def test_a_write_retried_after_a_lost_reply_is_one_turn(app, monkeypatch):
    """The commit went through but its reply was lost: the retry must not write it twice."""
    real = app.store.save_turn
    calls = []

    def committed_then_lost(*args):
        calls.append(args)
        saved = real(*args)
        if len(calls) == 1:
            raise DatabaseUnavailable("the database is unavailable: server closed the connection")
        return saved

    monkeypatch.setattr(app.store, "save_turn", committed_then_lost)
    events = ask(app).events()
    assert (len(calls), events[-1]["saved"]) == (2, True)
    assert len(conversation(app, events[0]["conversation"])["turns"]) == 1


def test_readyz_reports_the_database_without_failing_on_it(app, monkeypatch):
    result = call(app, "GET", "/readyz")
    assert (result.status, result.json()["database"]) == (200, {"status": "ready"})
    app.store._schema_checked = False
    monkeypatch.setattr(
        app.store,
        "version",
        lambda: (_ for _ in ()).throw(DatabaseUnavailable("refused at 10.0.0.5:5432")),
    )
    result = call(app, "GET", "/readyz")
    assert result.status == 200
    assert result.json()["status"] == "ready"
    assert result.json()["database"] == {
        "status": "unavailable",
        "reason": "the database cannot be reached",
    }
    assert "10.0.0.5" not in result.body.decode()


# --- a real PostgreSQL restarting under the app


def test_the_app_rides_out_a_postgresql_restart(make_app, postgresql_server, postgresql_database):
    app = make_app(store=postgresql_database.migrated())
    first = ask(app).events()[0]["conversation"]
    postgresql_server.stop()
    try:
        result = ask(app, conversation=first)
        assert (result.status, result.json()["error"]["code"]) == (503, "database_unavailable")
    finally:
        postgresql_server.start()
    assert ask(app, conversation=first).events()[-1]["saved"] is True
    turns = conversation(app, first)["turns"]
    assert len(turns) == 2
    assert len({t["id"] for t in turns}) == 2
