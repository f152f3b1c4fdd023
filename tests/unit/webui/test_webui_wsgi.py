"""The mod_wsgi entry point builds the app from the environment and fails loudly when it can't."""

import importlib
import sys

import pytest

from webui.settings import SettingsError
from webui.store import SCHEMA_VERSION, SchemaMismatch


def load_wsgi_module():
    sys.modules.pop("webui.wsgi", None)
    return importlib.import_module("webui.wsgi")


def test_application_is_built_from_the_environment(monkeypatch):
    monkeypatch.setenv("WEBUI_REQUIRE_LOGIN", "false")
    monkeypatch.setenv("WEBUI_NODE_NAME", "web-wsgi")
    application = load_wsgi_module().application
    assert callable(application)
    assert application.settings.node_name == "web-wsgi"


def test_a_bad_setting_stops_the_import_with_its_name(monkeypatch):
    monkeypatch.setenv("WEBUI_REQUIRE_LOGIN", "true")
    monkeypatch.delenv("WEBUI_DATABASE_URL", raising=False)
    with pytest.raises(SettingsError, match="WEBUI_DATABASE_URL"):
        load_wsgi_module()


def test_a_database_with_a_newer_schema_stops_the_import(monkeypatch, sqlite_database):
    store = sqlite_database.open()
    store.migrate()
    with store.database.transaction() as tx:
        tx.execute("INSERT INTO schema_version VALUES (?, ?)", (SCHEMA_VERSION + 1, 0.0))
    monkeypatch.setenv("WEBUI_DATABASE_URL", sqlite_database.url)
    with pytest.raises(SchemaMismatch, match="newer than this app"):
        load_wsgi_module()


def test_an_unmigrated_database_stops_the_import(monkeypatch, sqlite_database):
    monkeypatch.setenv("WEBUI_DATABASE_URL", sqlite_database.url)
    with pytest.raises(SchemaMismatch, match="run python -m webui migrate"):
        load_wsgi_module()


def test_an_unreachable_database_does_not_stop_the_import(monkeypatch):
    # Nothing listens on loopback port 9: the app starts and answers 503 until the database does.
    monkeypatch.setenv("WEBUI_DATABASE_URL", "postgresql://webui_app@127.0.0.1:9/webui")
    monkeypatch.setenv("WEBUI_REQUIRE_LOGIN", "true")
    application = load_wsgi_module().application
    application.store.close()
    assert callable(application)
