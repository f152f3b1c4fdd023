"""Settings: defaults, the file, and a start-up error that names the bad setting."""

import dataclasses

import pytest

from webui.settings import Settings, SettingsError, documentation, load_settings

DATABASE = "postgresql://webui_app@db.internal:5432/webui?sslmode=verify-full&sslrootcert=system"
SECURE = {"WEBUI_DATABASE_URL": DATABASE, "WEBUI_DATABASE_PASSWORD": "db-pass-123"}


def test_defaults_match_the_contract():
    settings = load_settings(SECURE)
    assert settings.ollama_url == "http://127.0.0.1:11434"
    assert (settings.connect_timeout, settings.read_timeout) == (5.0, 120.0)
    assert settings.require_login is True
    assert (settings.max_body_bytes, settings.max_question_chars) == (16384, 4000)
    assert settings.trust_proxy is False
    assert (settings.models_cache_seconds, settings.backend_hold_seconds) == (5.0, 5.0)
    assert (settings.session_ttl_seconds, settings.session_idle_seconds) == (8 * 3600, 1800)
    assert settings.history_turns == 20
    assert settings.node_name


def test_several_gateways_are_read_in_their_order(tmp_path):
    path = tmp_path / "webui.env"
    path.write_text("WEBUI_OLLAMA_URL = https://10.0.1.12:8443  https://10.0.1.11:8443\n")
    settings = load_settings({**SECURE, "WEBUI_SETTINGS_FILE": str(path)})
    assert settings.ollama_urls == ("https://10.0.1.12:8443", "https://10.0.1.11:8443")
    one = load_settings({**SECURE, "WEBUI_OLLAMA_URL": "https://gw:8443"})
    assert one.ollama_urls == ("https://gw:8443",)


@pytest.mark.parametrize(
    ("urls", "message"),
    [
        ("https://gw:8443 https://GW:8443/", "twice"),
        ("http://gw http://gw:80", "twice"),
        ("https://a:8443 ftp://b:8443", "ftp://b:8443"),
        ("https://a:8443 https://u:p@b:8443", "credentials"),
        ("https://a:8443 https://b:port", "port"),
        ("  ", "at least one"),
    ],
)
def test_bad_gateway_lists_are_refused_with_the_reason(urls, message):
    with pytest.raises(SettingsError, match=f"WEBUI_OLLAMA_URL.*{message}"):
        load_settings({**SECURE, "WEBUI_OLLAMA_URL": urls})


def test_values_are_converted_by_type():
    settings = load_settings(
        {
            "WEBUI_REQUIRE_LOGIN": "false",
            "WEBUI_READ_TIMEOUT": "2.5",
            "WEBUI_MAX_BODY_BYTES": "10",
            "WEBUI_TRUST_PROXY": "yes",
            "WEBUI_NODE_NAME": "web-1",
            "PATH": "/usr/bin",
        }
    )
    assert (settings.require_login, settings.read_timeout) == (False, 2.5)
    assert (settings.max_body_bytes, settings.trust_proxy, settings.node_name) == (
        10,
        True,
        "web-1",
    )


def test_a_settings_file_is_read_and_the_environment_wins(tmp_path):
    path = tmp_path / "webui.env"
    path.write_text("# shared\n\nWEBUI_REQUIRE_LOGIN=false\nWEBUI_NODE_NAME = from-file\n")
    settings = load_settings({"WEBUI_SETTINGS_FILE": str(path), "WEBUI_NODE_NAME": "from-env"})
    assert (settings.require_login, settings.node_name) == (False, "from-env")


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"WEBUI_REQUIRE_LOGIN": "maybe"}, "WEBUI_REQUIRE_LOGIN"),
        ({"WEBUI_READ_TIMEOUT": "soon"}, "WEBUI_READ_TIMEOUT"),
        ({"WEBUI_CONNECT_TIMEOUT": "0"}, "WEBUI_CONNECT_TIMEOUT"),
        ({"WEBUI_MAX_BODY_BYTES": "-1"}, "WEBUI_MAX_BODY_BYTES"),
        ({"WEBUI_MODELS_CACHE_SECONDS": "0"}, "WEBUI_MODELS_CACHE_SECONDS"),
        ({"WEBUI_BACKEND_HOLD_SECONDS": "-1"}, "WEBUI_BACKEND_HOLD_SECONDS"),
        ({"WEBUI_BACKEND_HOLD_SECONDS": "soon"}, "WEBUI_BACKEND_HOLD_SECONDS"),
        ({"WEBUI_OLLAMA_URL": "ftp://x"}, "WEBUI_OLLAMA_URL"),
        ({"WEBUI_OLLAMA_URL": "https://u:p@gw:8443"}, "WEBUI_OLLAMA_URL"),
        ({"WEBUI_OLLAMA_TOKEN": "t", "WEBUI_OLLAMA_USERNAME": "u"}, "WEBUI_OLLAMA_TOKEN"),
        ({"WEBUI_OLLAMA_USERNAME": "u"}, "WEBUI_OLLAMA_PASSWORD"),
        ({"WEBUI_OLLAMA_CA_BUNDLE": "/nonexistent/ca.pem"}, "WEBUI_OLLAMA_CA_BUNDLE"),
        ({"WEBUI_REQUIRE_LOGN": "false"}, "WEBUI_REQUIRE_LOGN"),
        ({"WEBUI_SETTINGS_FILE": "/nonexistent/webui.env"}, "WEBUI_SETTINGS_FILE"),
        ({"WEBUI_NODE_NAME": ""}, "WEBUI_NODE_NAME"),
        ({"WEBUI_SESSION_IDLE_SECONDS": "0"}, "WEBUI_SESSION_IDLE_SECONDS"),
        ({"WEBUI_HISTORY_TURNS": "-1"}, "WEBUI_HISTORY_TURNS"),
        ({"WEBUI_SESSION_SECRET": "k" * 40}, "WEBUI_SESSION_SECRET"),
        ({"WEBUI_USERS_DB": "/var/lib/webui/users.db"}, "WEBUI_USERS_DB"),
    ],
)
def test_bad_settings_are_refused_by_name(environ, named):
    with pytest.raises(SettingsError, match=named):
        load_settings({**SECURE, **environ})


def test_login_needs_a_database():
    with pytest.raises(SettingsError, match="WEBUI_DATABASE_URL is required"):
        load_settings({})
    assert load_settings({"WEBUI_REQUIRE_LOGIN": "false"}).database_url == ""


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://webui_app@10.0.2.20:5432/webui?sslmode=verify-full&sslrootcert=system",
        "postgres://webui_app@db.internal/webui?sslrootcert=system&sslmode=verify-full",
        "postgresql://webui_app@127.0.0.1:5432/webui",
        "postgresql://webui_app@localhost/webui",
        "postgresql://webui_app@[::1]:5432/webui",
        "postgresql:///webui?host=/run/postgresql",
        "sqlite:////var/lib/webui/webui.sqlite3",
    ],
)
def test_good_database_urls_are_taken(url):
    assert load_settings({"WEBUI_DATABASE_URL": url}).database_url == url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u@h/db", "must start with postgresql:// or sqlite:///, got mysql://"),
        ("/var/lib/webui.db", "must start with postgresql:// or sqlite:///"),
        ("sqlite://relative.db", "sqlite:///ABSOLUTE/PATH"),
        ("sqlite:///", "sqlite:///ABSOLUTE/PATH"),
        ("postgresql://webui_app:secret@127.0.0.1/webui", "must not contain a password"),
        ("postgresql://webui_app@127.0.0.1/webui?password=secret", "must not contain a password"),
        ("postgresql://webui_app@127.0.0.1:port/webui", "port is not a number"),
        ("postgresql://webui_app@10.0.2.20:5432/webui", "needs sslmode=verify-full"),
        ("postgresql://webui_app@db.internal/webui?sslmode=require", "needs sslmode=verify-full"),
        ("postgresql://webui_app@db.internal/webui?sslmode=verify-full", "and sslrootcert=CA_FILE"),
        ("postgresql://u@127.0.0.1/webui?host=db.internal", "needs sslmode=verify-full"),
        (
            "postgresql://u@db/webui?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
            "no such sslrootcert file /nonexistent/ca.pem",
        ),
    ],
)
def test_bad_database_urls_are_refused_with_the_reason(url, message):
    with pytest.raises(SettingsError, match="WEBUI_DATABASE_URL") as caught:
        load_settings({"WEBUI_DATABASE_URL": url})
    assert message in str(caught.value)


def test_a_malformed_settings_file_line_is_named(tmp_path):
    path = tmp_path / "webui.env"
    path.write_text("WEBUI_NODE_NAME=a\nnot a setting\n")
    with pytest.raises(SettingsError, match=r"webui.env:2"):
        load_settings({"WEBUI_SETTINGS_FILE": str(path)})


def test_secrets_are_not_in_the_repr():
    settings = load_settings(
        {
            **SECURE,
            "WEBUI_OLLAMA_USERNAME": "webui",
            "WEBUI_OLLAMA_PASSWORD": "gateway-pass-123",
        }
    )
    text = repr(settings)
    assert "gateway-pass-123" not in text
    assert "db-pass-123" not in text
    assert "webui" in text


def test_every_setting_is_documented_once():
    rows = documentation()
    assert [r[0] for r in rows] == [f"WEBUI_{f.name.upper()}" for f in dataclasses.fields(Settings)]
    assert all(doc for _, _, doc in rows)
