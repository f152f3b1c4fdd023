"""Fixtures: an app per test, wired to a fake Ollama (see webui_fakes)."""

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx
import pytest
from webui_fakes import FAST_HASHER, SECRET, FakeOllama

from webui.app import WebUI
from webui.auth import UserStore
from webui.backends import Backends
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
    """An app with login off unless asked; keyword arguments override settings.

    Every LLM machine is reached through ``transport`` (default: ``fake`` answers for all), and
    ``backend_clock`` is the time the machines' caches and holds go by.
    """

    def build(
        clock: Callable[[], float] | None = None,
        transport: httpx.BaseTransport | None = None,
        backend_clock: Callable[[], float] = time.monotonic,
        **overrides: Any,
    ) -> WebUI:
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
        backends = Backends.from_settings(
            settings, transport or httpx.MockTransport(fake.handle), backend_clock
        )
        if clock is None:
            return WebUI(settings, backends, users)
        return WebUI(settings, backends, users, clock=clock)

    return build


@pytest.fixture
def app(make_app: Callable[..., WebUI]) -> WebUI:
    return make_app()
