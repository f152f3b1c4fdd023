"""Playwright through HAProxy over HTTPS, against the local topology or a cloud deployment.

The target is OLLAMA_QA_URL, or else the load balancer of the inventory in OLLAMA_QA_INVENTORY.
The browser trusts the ACME CA in OLLAMA_QA_CA_FILE (the local Pebble's root) through its own
certificate store; TLS errors are never ignored. Credentials: OLLAMA_QA_USERNAME/PASSWORD.
"""

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

# bench/ sits at the repository root, outside the installed src/ packages; the tests that reach
# machines over SSH use its topology helpers (SSH as Ansible does it, tunnels) rather than a copy.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


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


def _inventory(path: str) -> dict:
    out = subprocess.run(
        ["ansible-inventory", "-i", path, "--list"], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out)


def _require(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise pytest.UsageError(f"{name} must be set for the end-to-end tests")
    return value


@pytest.fixture(scope="session")
def site() -> Site:
    inventory_file = os.environ.get("OLLAMA_QA_INVENTORY") or None
    url = os.environ.get("OLLAMA_QA_URL", "")
    address, web_hosts = None, []
    if inventory_file:
        data = _inventory(inventory_file)
        hostvars = data["_meta"]["hostvars"]
        lb = hostvars[data["lb"]["hosts"][0]]
        web_hosts = list(data["web"]["hosts"])
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
        username=_require("OLLAMA_QA_USERNAME"),
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
def deployment(site: Site):
    """The deployment's machines over SSH, when an inventory names them; None for a bare URL."""
    if not site.inventory:
        return None
    from bench.topology import Topology

    return Topology.load()


@pytest.fixture
def real_model(logged_in: Page, deployment) -> str:
    """The model a test of real answers asks: the page's default, unless the deployment's
    simulator serves it; then the first model no simulator serves."""
    from bench.real import pick_model

    # Asked by the page itself: the browser resolves the site's name as the tests tell it to.
    listing = logged_in.evaluate("async () => (await fetch('/api/models')).json()")
    assert "models" in listing, f"/api/models: {listing}"
    simulator = deployment.simulator if deployment else None
    model = pick_model(listing, simulator.models if simulator else ())
    if model is None:
        pytest.fail(f"every model the site offers is simulated: {listing['models']}")
    return model
