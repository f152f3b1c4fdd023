"""Fixtures: an app per test, wired to a fake Ollama (see webui_fakes) and an SQLite store, and
the databases the store itself is tested on (see databases)."""

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from databases import APP, APP_PASSWORD, OWNER, OWNER_PASSWORD, Database, PostgresServer
from webui_fakes import FAST_HASHER, FakeOllama

from webui.app import WebUI
from webui.backends import Backends
from webui.settings import Settings
from webui.store import Store


def pytest_configure(config: pytest.Config) -> None:
    """A WSGI protocol warning from the validator is a test failure, not noise."""
    config.addinivalue_line("filterwarnings", "error::wsgiref.validate.WSGIWarning")


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stores the CLI creates hash with cheap argon2id parameters, so the suite stays quick."""
    monkeypatch.setattr("webui.auth.PasswordHasher", lambda: FAST_HASHER)


@pytest.fixture(scope="session")
def postgresql_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole run; each test gets a database of its own."""
    server = PostgresServer()
    try:
        server.prepare()
        yield server
    finally:
        server.remove()


@pytest.fixture
def postgresql_database(postgresql_server: PostgresServer) -> Iterator[Database]:
    """A new PostgreSQL database, reached as the app role (or the owner, to migrate)."""
    name = postgresql_server.create_database()
    database = Database(
        "postgresql",
        postgresql_server.url(APP, name),
        APP_PASSWORD,
        postgresql_server.url(OWNER, name),
        OWNER_PASSWORD,
    )
    yield database
    database.close()
    if not postgresql_server.executor.running():
        postgresql_server.start()  # a test that stopped the server failed before restarting it
    postgresql_server.drop_database(name)


@pytest.fixture
def sqlite_database(tmp_path: Any) -> Iterator[Database]:
    database = Database("sqlite", f"sqlite:///{tmp_path / 'webui.sqlite3'}")
    yield database
    database.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> Database:
    """Each store test runs on both databases; PostgreSQL starts only if a test needs it."""
    return request.getfixturevalue(f"{request.param}_database")


@pytest.fixture
def fake() -> FakeOllama:
    return FakeOllama()


@pytest.fixture
def make_app(fake: FakeOllama, sqlite_database: Database) -> Callable[..., WebUI]:
    """An app with login off unless asked; keyword arguments override settings.

    Every LLM machine is reached through ``transport`` (default: ``fake`` answers for all), and
    ``backend_clock`` is the time the machines' caches and holds go by. Apps built in one test
    share one database, as the processes of all web machines do; ``store`` picks another.
    """
    sqlite_database.open().migrate()

    def build(
        clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
        backend_clock: Callable[[], float] = time.monotonic,
        store: Store | None = None,
        **overrides: Any,
    ) -> WebUI:
        settings = replace(
            Settings(node_name="web-test", require_login=False, database_url=sqlite_database.url),
            **overrides,
        )
        backends = Backends.from_settings(
            settings, transport or httpx.MockTransport(fake.handle), backend_clock
        )
        app = WebUI(settings, backends, store or sqlite_database.open(), clock, FAST_HASHER)
        app.save_seconds = 0.3
        return app

    return build


@pytest.fixture
def app(make_app: Callable[..., WebUI]) -> WebUI:
    return make_app()
