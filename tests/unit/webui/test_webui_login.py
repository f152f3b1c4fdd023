"""Login, signed sessions shared by web machines, throttling across processes, and CSRF."""

from urllib.parse import urlencode

import pytest
from argon2 import PasswordHasher
from webui_fakes import FAST_HASHER, FORM, JSON, ORIGIN, PASSWORD, SECRET, ask_body, call

from webui.auth import SESSION_COOKIE, UserStore, sign_session, verify_session


class Clock:
    """A settable clock, so expiry and throttling windows are tested without waiting."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def secure_app(make_app, clock):
    app = make_app(clock=clock, require_login=True, login_max_failures=3)
    app.users.add("alice", PASSWORD)
    return app


def login(app, username="alice", password=PASSWORD, headers=None):
    body = urlencode({"username": username, "password": password}).encode()
    return call(app, "POST", "/login", body, {**FORM, **(headers or {})})


def session_of(result) -> str:
    cookie = result.headers["set-cookie"]
    return cookie.split(";")[0].split("=", 1)[1]


def cookie_header(value: str) -> dict[str, str]:
    return {"Cookie": f"{SESSION_COOKIE}={value}"}


def test_the_page_redirects_to_login_without_a_session(secure_app):
    result = call(secure_app, "GET", "/")
    assert (result.status, result.headers["location"]) == (303, "/login")


@pytest.mark.parametrize(("method", "path"), [("POST", "/api/ask"), ("GET", "/api/models")])
def test_the_api_needs_a_session(secure_app, fake, method, path):
    result = call(secure_app, method, path, ask_body(), JSON)
    assert (result.status, result.json()["error"]["code"]) == (401, "login_required")
    assert fake.requests == []


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/static/app.js", "/login"])
def test_public_routes_need_no_session(secure_app, path):
    assert call(secure_app, "GET", path).status == 200


def test_login_sets_a_host_prefixed_strict_cookie_and_redirects(secure_app, clock):
    result = login(secure_app)
    assert (result.status, result.headers["location"]) == (303, "/")
    cookie = result.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    for attribute in ("Path=/", "Secure", "HttpOnly", "SameSite=Strict", "Max-Age=28800"):
        assert f"; {attribute}" in cookie
    assert "Domain" not in cookie
    assert verify_session(SECRET, session_of(result), clock()) == "alice"


def test_the_session_opens_the_page_and_the_api(secure_app):
    session = cookie_header(session_of(login(secure_app)))
    assert call(secure_app, "GET", "/", headers=session).status == 200
    assert call(secure_app, "POST", "/api/ask", ask_body(), {**JSON, **session}).status == 200
    assert call(secure_app, "GET", "/login", headers=session).status == 303


def test_another_web_machine_with_the_same_secret_accepts_the_session(secure_app, make_app, clock):
    session = cookie_header(session_of(login(secure_app)))
    other = make_app(
        clock=clock, require_login=True, node_name="web-2", users_db=secure_app.users.path + "2"
    )
    assert call(other, "GET", "/", headers=session).status == 200


def test_a_session_signed_with_another_secret_is_refused(secure_app, clock):
    forged = sign_session("x" * 40, "alice", int(clock()) + 60)
    assert call(secure_app, "GET", "/", headers=cookie_header(forged)).status == 303


@pytest.mark.parametrize("value", ["", "garbage", "a.b", "..", "eyJ1IjoxfQ.x"])
def test_garbled_sessions_are_refused(secure_app, value):
    assert call(secure_app, "GET", "/", headers=cookie_header(value)).status == 303


def test_a_tampered_user_name_is_refused(secure_app, clock):
    payload, signature = sign_session(SECRET, "alice", int(clock()) + 60).split(".")
    other = sign_session(SECRET, "mallory", int(clock()) + 60).split(".")[0]
    assert verify_session(SECRET, f"{payload}.{signature}", clock()) == "alice"
    assert verify_session(SECRET, f"{other}.{signature}", clock()) is None


def test_sessions_expire(secure_app, clock):
    session = cookie_header(session_of(login(secure_app)))
    clock.now += 28800 - 1
    assert call(secure_app, "GET", "/", headers=session).status == 200
    clock.now += 1
    assert call(secure_app, "GET", "/", headers=session).status == 303


def test_wrong_password_is_401_with_the_form_and_a_message(secure_app):
    result = login(secure_app, password="wrong")
    assert result.status == 401
    assert "set-cookie" not in result.headers
    page = result.body.decode()
    assert 'role="alert">Wrong user name or password.' in page
    assert 'name="password"' in page


def test_the_typed_user_name_is_kept_and_escaped(secure_app):
    page = login(secure_app, username='"><script>x</script>', password="wrong").body.decode()
    assert 'value="&quot;&gt;&lt;script&gt;x&lt;/script&gt;"' in page
    assert "<script>x" not in page


def test_unknown_user_is_401(secure_app):
    assert login(secure_app, username="bob").status == 401


def test_failed_logins_are_throttled_with_retry_after(secure_app, clock):
    for _ in range(3):
        assert login(secure_app, password="wrong").status == 401
    result = login(secure_app)
    assert result.status == 429
    assert int(result.headers["retry-after"]) == 300
    assert "Too many failed logins" in result.body.decode()
    clock.now += 299
    assert login(secure_app).status == 429
    clock.now += 1
    assert login(secure_app).status == 303


def test_throttling_counts_across_processes_sharing_the_database(secure_app, make_app, clock):
    # Two app objects over one SQLite file stand for two mod_wsgi processes on one machine.
    other = make_app(clock=clock, require_login=True, login_max_failures=3)
    assert other.users.path == secure_app.users.path
    login(secure_app, password="wrong")
    login(other, password="wrong")
    login(secure_app, password="wrong")
    assert login(other).status == 429


def test_throttling_by_address_stops_guessing_many_names(secure_app):
    for name in ("u1", "u2", "u3"):
        login(secure_app, username=name, password="wrong")
    assert login(secure_app).status == 429


def test_behind_a_trusted_proxy_the_forwarded_address_is_throttled(make_app, clock):
    app = make_app(clock=clock, require_login=True, login_max_failures=2, trust_proxy=True)
    app.users.add("alice", PASSWORD)
    for _ in range(2):
        login(app, password="wrong", headers={"X-Forwarded-For": "203.0.113.9"})
    assert login(app, headers={"X-Forwarded-For": "203.0.113.10"}).status == 429  # by user
    app.users.clear_failures("user:alice")
    assert login(app, headers={"X-Forwarded-For": "203.0.113.10"}).status == 303
    assert login(app, headers={"X-Forwarded-For": "203.0.113.9"}).status == 429  # by address


def test_a_good_login_forgets_the_users_failures(secure_app):
    login(secure_app, password="wrong")
    login(secure_app, password="wrong")
    assert login(secure_app).status == 303
    secure_app.users.clear_failures("addr:127.0.0.1")
    login(secure_app, password="wrong")
    assert login(secure_app).status == 303


def test_logout_expires_the_cookie(secure_app):
    result = call(secure_app, "POST", "/logout")
    assert (result.status, result.headers["location"]) == (303, "/login")
    assert result.headers["set-cookie"].startswith(f"{SESSION_COOKIE}=; Max-Age=0;")


def test_login_wants_a_form(secure_app):
    result = call(secure_app, "POST", "/login", b"{}", JSON)
    assert result.status == 415


def test_login_is_skipped_when_not_required(app):
    assert call(app, "GET", "/login").headers["location"] == "/"
    assert call(app, "GET", "/").status == 200


def test_passwords_are_stored_as_argon2id(secure_app):
    with secure_app.users._connect() as db:
        stored = db.execute("SELECT password_hash FROM users").fetchone()[0]
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert PasswordHasher().verify(stored, PASSWORD)


def test_user_store_management(tmp_path):
    store = UserStore(str(tmp_path / "u.db"), FAST_HASHER)
    store.add("bob", "pw1")
    store.set_password("bob", "pw2")
    assert store.check_password("bob", "pw2")
    assert not store.check_password("bob", "pw1")
    store.remove("bob")
    assert store.usernames() == []


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/api/ask"), ("POST", "/login"), ("POST", "/logout")]
)
@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": "https://127.0.0.1"},
        {"Origin": "http://127.0.0.1:8080"},
        {"Origin": "", "Referer": "http://evil.example/page"},
        {"Origin": ""},
    ],
)
def test_cross_site_posts_are_refused(secure_app, fake, method, path, headers):
    result = call(secure_app, method, path, ask_body(), {**JSON, **headers})
    assert (result.status, result.json()["error"]["code"]) == (403, "bad_origin")
    assert fake.requests == []


def test_a_same_site_referer_is_enough_without_origin(secure_app):
    headers = {"Origin": "", "Referer": f"{ORIGIN}/login"}
    assert login(secure_app, headers=headers).status == 303


def test_default_ports_match(secure_app):
    assert login(secure_app, headers={"Origin": "http://127.0.0.1:80"}).status == 303


@pytest.mark.parametrize("trust", [True, False])
def test_forwarded_origin_is_believed_only_when_trusted(make_app, trust):
    app = make_app(trust_proxy=trust)
    headers = {
        **JSON,
        "Origin": "https://qa.example",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "qa.example",
    }
    result = call(app, "POST", "/api/ask", ask_body(), headers)
    assert result.status == (200 if trust else 403)
