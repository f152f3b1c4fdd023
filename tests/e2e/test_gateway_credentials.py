"""A web app holding a wrong gateway token shows the person a clear error, not a hang.

The production app must never hold a wrong token, so this starts a second, deliberately
misconfigured app process inside one web machine's container (same image, same settings file,
only the gateway password overridden, login off, on loopback), reaches it through an SSH tunnel,
and asks through the real gateway on the GPU machine.
"""

import shlex
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import testinfra
import yaml
from conftest import Site, _inventory
from playwright.sync_api import Browser, expect

MISCONFIGURED_PORT = 18090
LIFETIME_SECONDS = 300  # the process ends by itself even if teardown never runs
PID_FILE = "/run/webui/wrong-gateway-token.pid"  # the container's own writable tmpfs


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_answers(url: str, process: subprocess.Popen, deadline_seconds: float) -> None:
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "the SSH tunnel ended"
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {deadline_seconds} s")


@pytest.fixture
def misconfigured_app(site: Site) -> Iterator[str]:
    if not site.inventory:
        pytest.skip("needs OLLAMA_QA_INVENTORY to reach a web machine over SSH")
    data = _inventory(site.inventory)
    web = data["web"]["hosts"][0]
    hostvars = data["_meta"]["hostvars"][web]
    machine = testinfra.get_host(f"ansible://{web}?ansible_inventory={site.inventory}", sudo=True)
    defaults = Path(__file__).resolve().parents[2] / "infrastructure/ansible/roles/webapp/defaults"
    container = yaml.safe_load((defaults / "main.yml").read_text())["webapp_container_name"]
    serve = (
        f"echo $$ > {PID_FILE}; exec timeout {LIFETIME_SECONDS} python "
        f"-m webui serve --host 127.0.0.1 --port {MISCONFIGURED_PORT}"
    )
    machine.check_output(
        f"docker exec -d -e WEBUI_OLLAMA_PASSWORD=deliberately-wrong -e WEBUI_REQUIRE_LOGIN=false "
        f"{container} sh -c {shlex.quote(serve)}"
    )
    local_port = _free_port()
    tunnel = subprocess.Popen(
        [
            "ssh",
            "-N",
            "-o",
            "ExitOnForwardFailure=yes",
            *shlex.split(hostvars.get("ansible_ssh_common_args", "")),
            "-i",
            hostvars["ansible_ssh_private_key_file"],
            "-L",
            f"127.0.0.1:{local_port}:127.0.0.1:{MISCONFIGURED_PORT}",
            f"{hostvars['ansible_user']}@{hostvars['ansible_host']}",
        ],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{local_port}/"
        _wait_until_answers(f"{url}healthz", tunnel, 30)
        yield url
    finally:
        tunnel.terminate()
        tunnel.wait(timeout=10)
        machine.run(f"docker exec {container} sh -c 'kill $(cat {PID_FILE})'")


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
