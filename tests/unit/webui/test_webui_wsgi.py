"""The mod_wsgi entry point builds the app from the environment and fails loudly when it can't."""

import importlib
import sys

import pytest

from webui.settings import SettingsError


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
    monkeypatch.delenv("WEBUI_SESSION_SECRET", raising=False)
    with pytest.raises(SettingsError, match="WEBUI_SESSION_SECRET"):
        load_wsgi_module()
