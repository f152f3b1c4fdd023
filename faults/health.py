"""Is the deployment serving again? HAProxy sees every web machine up, and a question is answered.

The question goes to the site's default model, as a user's would, and asks for a short answer;
the check deletes its conversation once the answer is done (and saved), so it leaves nothing.
"""

from __future__ import annotations

import json

import httpx

from deploykit import ssh, wait
from deploykit.client import LoginError
from deploykit.haproxy import RUNNING
from deploykit.topology import Topology

SERVERS_SECONDS = 180  # a web container restarted by a fault waits for its health check
ANSWER_SECONDS = 120


class Unhealthy(RuntimeError):
    """The deployment is not serving; the message says what is wrong."""


def web_servers_up(topology: Topology) -> None:
    api = topology.haproxy()
    port = topology.var(topology.lb, "haproxy_backend_port")
    seen: list[dict[str, int]] = [{}]

    def all_up() -> bool:
        seen[0] = api.server_states(port)
        return len(seen[0]) == len(topology.web) and set(seen[0].values()) == {RUNNING}

    try:
        wait.until(all_up, SERVERS_SECONDS, "every web machine up in HAProxy")
    except TimeoutError:
        raise Unhealthy(f"HAProxy's web servers are not all up: {seen[0]}") from None


def answers(topology: Topology) -> None:
    with topology.client() as client:
        try:
            client.login()
        except (LoginError, httpx.HTTPError) as error:
            raise Unhealthy(f"cannot log in: {error}") from None
        model = client.request("GET", "/api/models").json().get("default")
        body = {"question": "Say hello.", "model": model, "stream": True}
        headers = {"Origin": topology.origin}
        conversation = None
        with client.stream(
            "POST", "/api/ask", json=body, headers=headers, timeout=ANSWER_SECONDS
        ) as response:
            if response.status_code != 200:
                raise Unhealthy(f"/api/ask answered HTTP {response.status_code}")
            for line in response.iter_lines():
                event = json.loads(line)
                conversation = event.get("conversation", conversation)
                if event["type"] == "error":
                    raise Unhealthy(f"/api/ask answered an error: {event.get('message')}")
                if event["type"] == "done":
                    break
            else:
                raise Unhealthy("/api/ask ended before its answer was done")
        if conversation:
            # The check's own conversation is not the user's to keep.
            client.request("DELETE", f"/api/conversations/{conversation}", headers=headers)


def check_health(topology: Topology) -> None:
    """Raises Unhealthy, whatever failed on the way (a refused connection, a lost SSH session)."""
    try:
        web_servers_up(topology)
        answers(topology)
    except (httpx.HTTPError, ssh.SSHError, ValueError) as error:
        raise Unhealthy(f"{type(error).__name__}: {error}") from None
