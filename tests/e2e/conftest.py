"""Playwright through HAProxy over HTTPS, against the local topology or a cloud deployment.

The target is OLLAMA_QA_URL, or else the load balancer of the inventory in OLLAMA_QA_INVENTORY.
The browser trusts the ACME CA in OLLAMA_QA_CA_FILE (the local Pebble's root) through its own
certificate store; TLS errors are never ignored. Credentials: OLLAMA_QA_PASSWORD, and
OLLAMA_QA_USERNAME unless the inventory gives the first user's name.
"""

import os
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from deploykit import inventory, variables
from deploykit.topology import Topology, pick_model


@dataclass(frozen=True)
class Site:
    url: str  # https://name/
    hostname: str
    address: str | None  # the load balancer's address when the name does not resolve by itself
    ca_file: str | None
    username: str
    password: str
    web_hosts: list[str]
    inventory: str | None


def _require(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise pytest.UsageError(f"{name} must be set for the end-to-end tests")
    return value


def _first_user(inventory_file: str | None, web_hosts: list[str]) -> str:
    """The deployment's first user (webapp_admin_username), where an inventory names it."""
    if not inventory_file:
        return _require("OLLAMA_QA_USERNAME")
    return variables.resolve(Path(inventory_file)).get(web_hosts[0], "webapp_admin_username")


@pytest.fixture(scope="session")
def site() -> Site:
    inventory_file = os.environ.get("OLLAMA_QA_INVENTORY") or None
    url = os.environ.get("OLLAMA_QA_URL", "")
    address, web_hosts = None, []
    if inventory_file:
        loaded = inventory.load(Path(inventory_file))
        lb = loaded.hostvars(loaded.hosts("lb")[0])
        web_hosts = loaded.hosts("web")
        if not url:
            url = f"https://{lb['public_hostname']}/"
            address = lb["ansible_host"]
    if not url:
        raise pytest.UsageError("set OLLAMA_QA_URL or OLLAMA_QA_INVENTORY")
    return Site(
        url=url,
        hostname=urlsplit(url).hostname or "",
        address=address,
        ca_file=os.environ.get("OLLAMA_QA_CA_FILE") or None,
        username=os.environ.get("OLLAMA_QA_USERNAME") or _first_user(inventory_file, web_hosts),
        password=_require("OLLAMA_QA_PASSWORD"),
        web_hosts=web_hosts,
        inventory=inventory_file,
    )


@pytest.fixture(scope="session")
def browser(site: Site, chromium_options: dict) -> Iterator[Browser]:
    args = list(chromium_options["args"])
    if site.address:
        args.append(f"--host-resolver-rules=MAP {site.hostname} {site.address}")
    with tempfile.TemporaryDirectory(prefix="e2e-home-") as home:
        env = dict(os.environ, HOME=home)
        if site.ca_file:
            # Chromium on Linux trusts what the user's NSS database trusts; this one is ours alone.
            nssdb = Path(home, ".pki", "nssdb")
            nssdb.mkdir(parents=True)
            subprocess.run(["certutil", "-N", "-d", f"sql:{nssdb}", "--empty-password"], check=True)
            subprocess.run(
                [
                    "certutil",
                    "-A",
                    "-d",
                    f"sql:{nssdb}",
                    "-n",
                    "acme-ca",
                    "-t",
                    "C,,",
                    "-i",
                    site.ca_file,
                ],
                check=True,
            )
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(
                executable_path=chromium_options["executable_path"], args=args, env=env
            )
            yield launched
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    yield context.new_page()
    context.close()


# The ids of the user's conversations, and deleting one, through the page (its session, its origin).
CONVERSATION_IDS = """async () =>
    (await (await fetch("/api/conversations")).json()).conversations.map((c) => c.id)"""
DELETE_CONVERSATION = """async (id) =>
    (await fetch(`/api/conversations/${encodeURIComponent(id)}`, {method: "DELETE"})).status"""


@pytest.fixture
def logged_in(page: Page, site: Site) -> Iterator[Page]:
    page.goto(site.url)
    page.get_by_label("User name").fill(site.username)
    page.get_by_label("Password").fill(site.password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(site.url)
    before = set(page.evaluate(CONVERSATION_IDS))
    yield page
    # Every question is kept in a conversation: the test's go again, the user's own stay.
    for conversation in set(page.evaluate(CONVERSATION_IDS)) - before:
        page.evaluate(DELETE_CONVERSATION, conversation)


def ask(page: Page, model: str, question: str) -> None:
    """Ask a question on the page as a person does: pick the model, type, submit."""
    page.get_by_label("Model").select_option(model)
    page.get_by_label("Question").fill(question)
    page.get_by_role("button", name="Submit").click()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests leave what a person looks at afterwards (screenshots); CI uploads it."""
    path = Path(os.environ.get("OLLAMA_QA_ARTIFACTS") or Path.cwd() / "test-artifacts") / "e2e"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def deployment(site: Site) -> Topology | None:
    """The deployment's machines over SSH, when an inventory names them; None for a bare URL."""
    if not site.inventory:
        return None
    return Topology.load(Path(site.inventory))


@pytest.fixture
def real_model(logged_in: Page, deployment) -> str:
    """The model a test of real answers asks: the page's default, unless the deployment's
    simulator serves it; then the first model no simulator serves."""
    # Asked by the page itself: the browser resolves the site's name as the tests tell it to.
    listing = logged_in.evaluate("async () => (await fetch('/api/models')).json()")
    assert "models" in listing, f"/api/models: {listing}"
    simulator = deployment.simulator if deployment else None
    model = pick_model(listing, simulator.models if simulator else ())
    if model is None:
        pytest.fail(f"every model the site offers is simulated: {listing['models']}")
    return model
