"""With one web machine's app stopped, a person still gets answers through the load balancer."""

import json
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from deploykit.topology import Machine, Topology
from deploykit.wait import until

RECOVERY_SECONDS = 120


def _healthy(deployment: Topology, machine: Machine, container: str) -> bool:
    command = f"docker inspect --format '{{{{json .State}}}}' {container}"
    state = deployment.run(machine, command, check=False)
    health = json.loads(state.stdout).get("Health", {}) if state.returncode == 0 else {}
    return health.get("Status") == "healthy"


@pytest.fixture
def one_web_machine_down(deployment: Topology | None) -> Iterator[str]:
    """Stops the app container on the first web machine, and brings it back afterwards."""
    if deployment is None:
        pytest.skip("needs OLLAMA_QA_INVENTORY to stop a web machine's app over SSH")
    web = deployment.web[0]
    container = deployment.var(web, "webapp_container_name")
    deployment.run(web, f"docker stop {container}")
    try:
        yield web.name
    finally:
        deployment.run(web, f"docker start {container}")
        until(
            lambda: _healthy(deployment, web, container),
            RECOVERY_SECONDS,
            f"{web.name}'s app did not become healthy again",
            interval=1,
        )


def test_page_answers_with_one_web_machine_down(logged_in: Page, one_web_machine_down: str):
    """Questions asked while a web machine is down are answered by another one."""
    page = logged_in
    for number in (1, 2, 3):
        page.get_by_label("Question").fill(f"Say the number {number}.")
        page.get_by_role("button", name="Submit").click()
        # The page empties the status when a question is sent, so each match is a new answer.
        expect(page.get_by_role("status")).to_have_text(
            re.compile(r"Answer complete: \d+ tok"), timeout=120_000
        )
        expect(page.get_by_role("alert")).to_be_hidden()
        expect(page.get_by_text(f"served by {one_web_machine_down}", exact=True)).to_have_count(0)
