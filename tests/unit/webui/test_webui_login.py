"""Login, server-side sessions every web machine sees, throttling across machines, and CSRF."""

import hashlib
from urllib.parse import urlencode

import pytest
from argon2 import PasswordHasher
from webui_fakes import FORM, JSON, ORIGIN, PASSWORD, FakeClock, ask_body, call

from deploykit import client as kit
from webui.auth import SESSION_COOKIE, TOUCH_EVERY_SECONDS, UserError


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def secure_app(make_app, clock):
    app = make_app(clock=clock, require_login=True, login_max_failures=3)
    app.accounts.add("alice", PASSWORD)
    return app


@pytest.fixture
def other_machine(make_app, clock, secure_app):
    """A second web machine on the same database."""
    return make_app(clock=clock, require_login=True, login_max_failures=3, node_name="web-2")


def login(app, username="alice", password=PASSWORD, headers=None):
    body = urlencode({"username": username, "password": password}).encode()
    return call(app, "POST", "/login", body, {**FORM, **(headers or {})})


def session_of(result) -> str:
    cookie = result.headers["set-cookie"]
    return cookie.split(";")[0].split("=", 1)[1]


def cookie_header(value: str) -> dict[str, str]:
    return {"Cookie": f"{SESSION_COOKIE}={value}"}


def logged_in(app, session) -> bool:
    """Whether the page opens with this session (a redirect to the login form if not)."""
    status = call(app, "GET", "/", headers=session).status
    assert status in (200, 303)
    return status == 200


def test_the_page_redirects_to_login_without_a_session(secure_app):
    result = call(secure_app, "GET", "/")
    assert (result.status, result.headers["location"]) == (303, "/login")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/ask"),
        ("GET", "/api/models"),
        ("GET", "/api/conversations"),
        ("DELETE", "/api/conversations"),
        ("GET", "/api/conversations/abc"),
        ("DELETE", "/api/conversations/abc"),
    ],
)
def test_the_api_needs_a_session(secure_app, fake, method, path):
    result = call(secure_app, method, path, ask_body(), JSON)
    assert (result.status, result.json()["error"]["code"]) == (401, "login_required")
    assert fake.requests == []


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/static/app.js", "/login"])
def test_public_routes_need_no_session(secure_app, path):
    assert call(secure_app, "GET", path).status == 200


def test_login_sets_a_host_prefixed_strict_cookie_and_redirects(secure_app):
    result = login(secure_app)
    assert (result.status, result.headers["location"]) == (303, "/")
    cookie = result.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    for attribute in ("Path=/", "Secure", "HttpOnly", "SameSite=Strict", "Max-Age=28800"):
        assert f"; {attribute}" in cookie
    assert "Domain" not in cookie
    assert secure_app.accounts.session_user(session_of(result)) == "alice"


def test_the_deployment_kit_expects_the_apps_session_cookie():
    # The kit keeps its own copy: the environments that test a deployment do not install the app.
    assert kit.SESSION_COOKIE == SESSION_COOKIE


def test_the_database_keeps_only_the_tokens_hash(secure_app):
    token = session_of(login(secure_app))
    assert len(token) >= 43  # 32 random bytes
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert secure_app.store.session(digest)[0] == "alice"
    assert secure_app.store.session(token) is None


def test_each_login_gets_its_own_token(secure_app):
    assert session_of(login(secure_app)) != session_of(login(secure_app))


def test_the_session_opens_the_page_and_the_api(secure_app):
    session = cookie_header(session_of(login(secure_app)))
    assert call(secure_app, "GET", "/", headers=session).status == 200
    assert call(secure_app, "POST", "/api/ask", ask_body(), {**JSON, **session}).status == 200
    assert call(secure_app, "GET", "/api/conversations", headers=session).status == 200
    assert call(secure_app, "GET", "/login", headers=session).status == 303


def test_another_web_machine_accepts_the_session(secure_app, other_machine):
    session = cookie_header(session_of(login(secure_app)))
    assert logged_in(other_machine, session)


@pytest.mark.parametrize("value", ["", "garbage", "a.b", "..", "eyJ1IjoxfQ.x", "x" * 5000])
def test_unknown_tokens_are_refused(secure_app, value):
    assert not logged_in(secure_app, cookie_header(value))


def test_sessions_end_at_their_absolute_limit_however_active(secure_app, clock):
    session = cookie_header(session_of(login(secure_app)))
    for _ in range(28800 // 600 - 1):
        clock.now += 600
        assert logged_in(secure_app, session)
    clock.now += 600
    assert not logged_in(secure_app, session)


def test_sessions_end_after_the_idle_limit(secure_app, clock):
    session = cookie_header(session_of(login(secure_app)))
    clock.now += 1800 - 1
    assert logged_in(secure_app, session)
    clock.now += 1800 - 1
    assert logged_in(secure_app, session)  # the last use moved the limit on
    clock.now += 1800
    assert not logged_in(secure_app, session)
    clock.now -= 1800  # gone for good, not merely out of time
    assert not logged_in(secure_app, session)


def test_the_last_use_is_written_at_most_once_a_minute(secure_app, clock, monkeypatch):
    session = cookie_header(session_of(login(secure_app)))
    touched = []
    real = secure_app.store.touch_session
    monkeypatch.setattr(
        secure_app.store, "touch_session", lambda *args: touched.append(args) or real(*args)
    )
    for _ in range(10):
        clock.now += TOUCH_EVERY_SECONDS / 4
        assert logged_in(secure_app, session)
    assert len(touched) == 2


def test_logout_ends_the_session_on_every_machine(secure_app, other_machine):
    token = session_of(login(secure_app))
    result = call(secure_app, "POST", "/logout", headers=cookie_header(token))
    assert (result.status, result.headers["location"]) == (303, "/login")
    assert result.headers["set-cookie"].startswith(f"{SESSION_COOKIE}=; Max-Age=0;")
    assert not logged_in(secure_app, cookie_header(token))
    assert not logged_in(other_machine, cookie_header(token))


def test_logout_ends_only_that_session(secure_app):
    first, second = session_of(login(secure_app)), session_of(login(secure_app))
    call(secure_app, "POST", "/logout", headers=cookie_header(first))
    assert logged_in(secure_app, cookie_header(second))


def test_a_new_password_works_and_the_old_one_does_not(secure_app):
    secure_app.accounts.set_password("alice", "a new password")
    assert login(secure_app).status == 401
    assert login(secure_app, password="a new password").status == 303


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


def test_throttling_counts_across_machines_sharing_the_database(secure_app, other_machine):
    login(secure_app, password="wrong")
    login(other_machine, password="wrong")
    login(secure_app, password="wrong")
    assert login(other_machine).status == 429


def test_throttling_by_address_stops_guessing_many_names(secure_app):
    for name in ("u1", "u2", "u3"):
        login(secure_app, username=name, password="wrong")
    assert login(secure_app).status == 429


def test_behind_a_trusted_proxy_the_forwarded_address_is_throttled(make_app, clock):
    app = make_app(clock=clock, require_login=True, login_max_failures=2, trust_proxy=True)
    app.accounts.add("alice", PASSWORD)
    for _ in range(2):
        login(app, password="wrong", headers={"X-Forwarded-For": "203.0.113.9"})
    assert login(app, headers={"X-Forwarded-For": "203.0.113.10"}).status == 429  # by user
    app.accounts.clear_failures("user:alice")
    assert login(app, headers={"X-Forwarded-For": "203.0.113.10"}).status == 303
    assert login(app, headers={"X-Forwarded-For": "203.0.113.9"}).status == 429  # by address


def test_a_good_login_forgets_the_users_failures(secure_app):
    login(secure_app, password="wrong")
    login(secure_app, password="wrong")
    assert login(secure_app).status == 303
    secure_app.accounts.clear_failures("addr:127.0.0.1")
    login(secure_app, password="wrong")
    assert login(secure_app).status == 303


def test_logout_without_a_session_expires_the_cookie(secure_app):
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
    stored = secure_app.store.password_hash("alice")
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert PasswordHasher().verify(stored, PASSWORD)


def test_user_management(app):
    accounts = app.accounts
    accounts.add("bob", "pw1")
    accounts.set_password("bob", "pw2")
    assert accounts.check_password("bob", "pw2")
    assert not accounts.check_password("bob", "pw1")
    with pytest.raises(UserError, match="already exists"):
        accounts.add("bob", "pw3")
    accounts.remove("bob")
    assert "bob" not in accounts.usernames()
    with pytest.raises(UserError, match="no user"):
        accounts.remove("bob")


def test_the_local_user_of_an_app_without_login_cannot_log_in(app, make_app):
    secure = make_app(require_login=True)
    assert "local user" in secure.accounts.usernames()
    assert not secure.accounts.check_password("local user", "")
    assert login(secure, username="local user", password="").status == 401


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/ask"),
        ("POST", "/login"),
        ("POST", "/logout"),
        ("DELETE", "/api/conversations"),
        ("DELETE", "/api/conversations/abc"),
    ],
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
