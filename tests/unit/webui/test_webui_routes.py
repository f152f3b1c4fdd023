"""Every route answers as the contract says, and every response carries the security headers."""

import httpx
import pytest
from webui_fakes import JSON, call

# The contract's values, written out: a change to the app's list must show up here.
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}


def test_healthz_is_ok_without_calling_the_backend(app, fake):
    result = call(app, "GET", "/healthz")
    assert (result.status, result.json()) == (200, {"status": "ok"})
    assert fake.requests == []


def test_readyz_reports_ready_when_ollama_answers(app, fake):
    result = call(app, "GET", "/readyz")
    assert result.status == 200
    assert result.json()["status"] == "ready"
    assert [r.url.path for r in fake.requests] == ["/api/version"]


@pytest.mark.parametrize(
    ("status", "code"), [(401, "backend_auth"), (503, "backend_busy"), (500, "backend_error")]
)
def test_readyz_is_unready_with_the_reason(app, fake, status, code):
    fake.status = status
    result = call(app, "GET", "/readyz")
    assert result.status == 503
    assert result.json()["reason"]["code"] == code


def test_readyz_is_unready_when_ollama_is_unreachable(app, fake):
    fake.exception = httpx.ConnectError("refused")
    result = call(app, "GET", "/readyz")
    assert (result.status, result.json()["reason"]["code"]) == (503, "backend_unreachable")


def test_models_lists_ollama_tags_with_the_first_as_default(app):
    result = call(app, "GET", "/api/models")
    assert result.json() == {"models": [{"name": "m1"}, {"name": "m2"}], "default": "m1"}


def test_models_prefers_the_configured_default(make_app):
    result = call(make_app(default_model="m2"), "GET", "/api/models")
    assert result.json()["default"] == "m2"


def test_models_classifies_backend_failures(app, fake):
    fake.status = 403
    result = call(app, "GET", "/api/models")
    assert (result.status, result.json()["error"]["code"]) == (502, "backend_auth")


def test_index_serves_the_page_with_its_assets(app):
    result = call(app, "GET", "/")
    assert result.status == 200
    assert result.headers["content-type"] == "text/html; charset=utf-8"
    page = result.body.decode()
    assert '<script src="/static/app.js" defer></script>' in page
    assert '<label for="question">' in page
    assert "web-test" in page


def test_index_escapes_the_node_name(make_app):
    page = call(make_app(node_name="<b>x</b>"), "GET", "/").body.decode()
    assert "&lt;b&gt;x&lt;/b&gt;" in page
    assert "<b>x</b>" not in page


def test_index_hides_logout_when_login_is_off(app):
    assert '<form method="post" action="/logout" hidden>' in call(app, "GET", "/").body.decode()


@pytest.mark.parametrize(
    ("name", "kind"),
    [("app.js", "text/javascript; charset=utf-8"), ("app.css", "text/css; charset=utf-8")],
)
def test_static_files_are_served_with_their_type(app, name, kind):
    result = call(app, "GET", f"/static/{name}")
    assert result.status == 200
    assert result.headers["content-type"] == kind
    assert result.body == (app.static_dir / name).read_bytes()


@pytest.mark.parametrize(
    "path",
    [
        "/static/../app.py",
        "/static/..%2fapp.py",
        "/static/%2e%2e/settings.py",
        "/static//etc/passwd",
        "/static/../templates/login.html",
        "/static/",
        "/static/missing.js",
    ],
)
def test_static_refuses_anything_but_its_own_files(app, path):
    assert call(app, "GET", path).status == 404


def test_unknown_path_is_a_json_404(app):
    result = call(app, "GET", "/nope")
    assert result.status == 404
    assert result.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "/api/ask", "POST"),
        ("POST", "/healthz", "GET"),
        ("DELETE", "/", "GET"),
        ("PUT", "/static/app.js", "GET"),
        ("GET", "/logout", "POST"),
    ],
)
def test_wrong_method_is_405_with_allow(app, method, path, allow):
    result = call(app, method, path)
    assert result.status == 405
    assert result.headers["allow"] == allow
    assert result.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/static/app.css"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/api/models"),
        ("GET", "/nope"),
        ("GET", "/api/ask"),
        ("POST", "/api/ask"),
    ],
)
def test_every_response_carries_the_security_headers(app, method, path):
    result = call(app, method, path, b"{}", JSON)
    for name, value in SECURITY_HEADERS.items():
        assert result.headers[name] == value
    assert result.headers["x-served-by"] == "web-test"


def test_csp_forbids_inline_script_and_framing(app):
    csp = call(app, "GET", "/").headers["content-security-policy"]
    assert "script-src 'self';" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp


def test_the_pages_have_no_inline_script_or_style(app, make_app):
    login = call(make_app(require_login=True), "GET", "/login").body.decode()
    page = call(app, "GET", "/").body.decode() + login
    assert "<form" in login
    assert "<script>" not in page
    assert "<style" not in page
    assert " style=" not in page
    assert " on" + "click=" not in page


def test_an_unexpected_failure_is_a_500_with_the_usual_headers(app, monkeypatch, caplog):
    def broken(environ, user):
        raise RuntimeError("secret detail")

    monkeypatch.setattr(app, "on_healthz", broken)
    result = call(app, "GET", "/healthz")
    assert (result.status, result.json()["error"]["code"]) == (500, "internal_error")
    assert b"secret detail" not in result.body
    assert result.headers["x-frame-options"] == "DENY"
    assert "secret detail" in caplog.text
