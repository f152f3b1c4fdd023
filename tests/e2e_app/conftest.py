"""Debian Chromium (Playwright, sync API) against the app served locally with the simulator.

Each app has an SQLite store of its own in a temporary directory, migrated and given its users
with the CLI, as a deployment would be.
"""

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator, Mapping

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

USER, PASSWORD = "alice", "e2e-password-not-secret"


def webui_cli(env: Mapping[str, str], *args: str, stdin: str | None = None) -> None:
    """``python -m webui ARGS`` with the settings of an app under test."""
    subprocess.run(
        [sys.executable, "-m", "webui", *args],
        input=stdin,
        text=True,
        check=True,
        env={**os.environ, **env},
    )


def app_settings(tmp_path_factory: pytest.TempPathFactory, simulator, login: bool) -> dict:
    """The settings of one app, with a freshly migrated store of its own."""
    env = {
        "WEBUI_OLLAMA_URL": simulator.url,
        "WEBUI_REQUIRE_LOGIN": str(login).lower(),
        "WEBUI_DATABASE_URL": f"sqlite:///{tmp_path_factory.mktemp('store') / 'webui.db'}",
    }
    webui_cli(env, "migrate")
    return env


@pytest.fixture(scope="session")
def credentials() -> tuple[str, str]:
    return USER, PASSWORD


@pytest.fixture(scope="session")
def webapp(launch, simulator, tmp_path_factory) -> Iterator:
    """The app with login off, as ``make serve`` runs it (but with a store on disk)."""
    served = launch("webui", ["webui", "serve"], app_settings(tmp_path_factory, simulator, False))
    yield served
    served.stop()


@pytest.fixture(scope="session")
def secure_settings(simulator, tmp_path_factory) -> dict:
    """The settings of the app with login required, which has one user made with the CLI."""
    env = app_settings(tmp_path_factory, simulator, True)
    webui_cli(env, "users", "add", USER, stdin=f"{PASSWORD}\n")
    return env


@pytest.fixture(scope="session")
def secure_webapp(launch, secure_settings) -> Iterator:
    served = launch("webui-login", ["webui", "serve"], secure_settings)
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


def log_in(page: Page, url: str, user: str, password: str) -> None:
    page.goto(url)
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(url + "/")


@pytest.fixture
def logged_in(page: Page, secure_webapp, secure_settings) -> Page:
    """The page, logged in as a user of its own, so each test starts with an empty history."""
    user, password = f"user{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    webui_cli(secure_settings, "users", "add", user, stdin=f"{password}\n")
    log_in(page, secure_webapp.url, user, password)
    return page
