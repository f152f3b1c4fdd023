"""A web app holding a wrong gateway token shows the person a clear error, not a hang.

The production app must never hold a wrong token, so this starts a second, deliberately
misconfigured app process inside one web machine's container (same image, same settings file,
only the gateway password overridden, login off, on loopback, and an in-memory database rather
than the shared one), reaches it through an SSH tunnel, and asks through the real gateway on the
LLM machine.
"""

import shlex
from collections.abc import Iterator

import httpx
import pytest
from conftest import Site
from playwright.sync_api import Browser, expect

from deploykit.topology import Topology
from deploykit.wait import until

MISCONFIGURED_PORT = 18090
LIFETIME_SECONDS = 300  # the process ends by itself even if teardown never runs
PID_FILE = "/run/webui/wrong-gateway-token.pid"  # the container's own writable tmpfs


def _wait_until_answers(url: str, deadline_seconds: float) -> None:
    until(
        lambda: httpx.get(url, timeout=2).status_code == 200,
        deadline_seconds,
        f"{url} did not answer within {deadline_seconds} s",
        interval=0.5,
        ignore=(httpx.TransportError,),
    )


@pytest.fixture
def misconfigured_app(site: Site, request: pytest.FixtureRequest) -> Iterator[str]:
    if not site.inventory:
        pytest.skip("needs OLLAMA_QA_INVENTORY to reach a web machine over SSH")
    topology: Topology = request.getfixturevalue("topology")
    web = topology.web[0]
    container = topology.var(web, "webapp_container_name")
    serve = (
        f"echo $$ > {PID_FILE}; exec timeout {LIFETIME_SECONDS} python "
        f"-m webui serve --host 127.0.0.1 --port {MISCONFIGURED_PORT}"
    )
    topology.run(
        web,
        f"docker exec -d -e WEBUI_OLLAMA_PASSWORD=deliberately-wrong -e WEBUI_REQUIRE_LOGIN=false "
        f"-e WEBUI_DATABASE_URL= {container} sh -c {shlex.quote(serve)}",
    )
    try:
        with topology.tunnel(web, MISCONFIGURED_PORT) as port:
            url = f"http://127.0.0.1:{port}/"
            _wait_until_answers(f"{url}healthz", 30)
            yield url
    finally:
        topology.run(web, f"docker exec {container} sh -c 'kill $(cat {PID_FILE})'", check=False)


def test_wrong_gateway_token_is_a_clear_error(browser: Browser, misconfigured_app: str):
    """The page names the gateway's refusal and keeps the question."""
    page = browser.new_page()
    page.goto(misconfigured_app)
    page.get_by_label("Question").fill("Is anyone there?")
    page.get_by_role("button", name="Submit").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("gateway refused our credentials", timeout=15_000)
    expect(alert).to_contain_text("backend_auth")
    expect(page.get_by_label("Question")).to_have_value("Is anyone there?")
    page.close()
