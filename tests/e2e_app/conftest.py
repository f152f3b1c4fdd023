"""Debian Chromium (Playwright, sync API) against the app served locally with the simulator."""

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

USER, PASSWORD = "alice", "e2e-password-not-secret"


@pytest.fixture(scope="session")
def credentials() -> tuple[str, str]:
    return USER, PASSWORD


@pytest.fixture(scope="session")
def webapp(launch, simulator) -> Iterator:
    served = launch(
        "webui",
        ["webui", "serve"],
        {"WEBUI_OLLAMA_URL": simulator.url, "WEBUI_REQUIRE_LOGIN": "false"},
    )
    yield served
    served.stop()


@pytest.fixture(scope="session")
def secure_webapp(launch, simulator, tmp_path_factory) -> Iterator:
    """The app with login required, and one user made with the users CLI."""
    env = {
        "WEBUI_OLLAMA_URL": simulator.url,
        "WEBUI_REQUIRE_LOGIN": "true",
        "WEBUI_SESSION_SECRET": "e2e-" + "x" * 40,
        "WEBUI_USERS_DB": str(tmp_path_factory.mktemp("users") / "users.db"),
    }
    subprocess.run(
        [sys.executable, "-m", "webui", "users", "add", USER],
        input=f"{PASSWORD}\n",
        text=True,
        check=True,
        env={**os.environ, **env},
    )
    served = launch("webui-login", ["webui", "serve"], env)
    yield served
    served.stop()


@pytest.fixture(scope="session")
def browser(chromium_options: dict) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**chromium_options)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context per test, so cookies and dialogs never leak between tests."""
    context = browser.new_context()
    page = context.new_page()
    yield page
    context.close()
