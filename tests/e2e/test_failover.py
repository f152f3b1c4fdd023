"""With one web machine's app stopped, a person still gets answers through the load balancer."""

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import testinfra
import yaml
from conftest import Site, _inventory
from playwright.sync_api import Page, expect

RECOVERY_SECONDS = 120
WEBAPP_DEFAULTS = (
    Path(__file__).resolve().parents[2] / "infrastructure/ansible/roles/webapp/defaults/main.yml"
)


def _healthy(machine, container: str) -> bool:
    state = machine.run(f"docker inspect --format '{{{{json .State}}}}' {container}")
    return state.rc == 0 and json.loads(state.stdout).get("Health", {}).get("Status") == "healthy"


@pytest.fixture
def one_web_machine_down(site: Site) -> Iterator[str]:
    """Stops the app container on the first web machine, and brings it back afterwards."""
    if not site.inventory:
        pytest.skip("needs OLLAMA_QA_INVENTORY to stop a web machine's app over SSH")
    web = _inventory(site.inventory)["web"]["hosts"][0]
    machine = testinfra.get_host(f"ansible://{web}?ansible_inventory={site.inventory}", sudo=True)
    container = yaml.safe_load(WEBAPP_DEFAULTS.read_text())["webapp_container_name"]
    machine.check_output(f"docker stop {container}")
    try:
        yield web
    finally:
        machine.check_output(f"docker start {container}")
        deadline = time.monotonic() + RECOVERY_SECONDS
        while not _healthy(machine, container):
            assert time.monotonic() < deadline, f"{web}'s app did not become healthy again"
            time.sleep(1)


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
