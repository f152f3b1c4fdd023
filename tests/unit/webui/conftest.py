"""Fixtures: an app per test, wired to a fake Ollama (see webui_fakes)."""

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx
import pytest
from webui_fakes import FAST_HASHER, SECRET, FakeOllama

from webui.app import WebUI
from webui.auth import UserStore
from webui.ollama import OllamaClient
from webui.settings import Settings


def pytest_configure(config: pytest.Config) -> None:
    """A WSGI protocol warning from the validator is a test failure, not noise."""
    config.addinivalue_line("filterwarnings", "error::wsgiref.validate.WSGIWarning")


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stores the CLI creates hash with cheap argon2id parameters, so the suite stays quick."""
    monkeypatch.setattr("webui.auth.PasswordHasher", lambda: FAST_HASHER)


@pytest.fixture
def fake() -> FakeOllama:
    return FakeOllama()


@pytest.fixture
def make_app(fake: FakeOllama, tmp_path: Any) -> Callable[..., WebUI]:
    """An app with login off unless asked; keyword arguments override settings."""

    def build(clock: Callable[[], float] | None = None, **overrides: Any) -> WebUI:
        settings = replace(
            Settings(
                node_name="web-test",
                require_login=False,
                session_secret=SECRET,
                users_db=str(tmp_path / "users.db"),
            ),
            **overrides,
        )
        users = UserStore(settings.users_db, FAST_HASHER) if settings.require_login else None
        client = OllamaClient(settings, httpx.MockTransport(fake.handle))
        if clock is None:
            return WebUI(settings, client, users)
        return WebUI(settings, client, users, clock=clock)

    return build


@pytest.fixture
def app(make_app: Callable[..., WebUI]) -> WebUI:
    return make_app()
