"""Helpers of the resilience tests: remote probes, polling, streams in the background.

A module of its own (not conftest.py) so that test modules can import it by a unique name.
"""

import asyncio
import contextlib
import json
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from deploykit import ssh
from deploykit.client import SiteClient
from deploykit.haproxy import RUNNING
from deploykit.probes import stream_client as streams
from deploykit.topology import Machine, Topology
from deploykit.wait import until

T = TypeVar("T")

# A question the simulator answers at once, for tests about what happens around answers.
SHORT_ANSWER = "[[sim:tokens=3]] [[sim:tps=100]]"


def wait_for(what: str, probe: Callable[[], T], ok: Callable[[T], bool], seconds: float) -> T:
    """Poll ``probe`` until ``ok`` holds, at most ``seconds``; fail naming ``what`` otherwise."""
    seen: list[T] = []

    def reached() -> tuple[T] | None:
        seen[:] = [probe()]
        return (seen[0],) if ok(seen[0]) else None

    try:
        return until(reached, seconds, what)[0]
    except TimeoutError:
        raise AssertionError(
            f"{what}: not reached within {seconds} s (last: {seen[0]!r})"
        ) from None


def _backend_port(topology: Topology) -> int:
    return int(topology.var(topology.lb, "haproxy_backend_port"))


def haproxy_states(topology: Topology) -> dict[str, int]:
    """Operational state of every HAProxy server, by address (2 means up)."""
    return topology.haproxy().server_states(_backend_port(topology))


def haproxy_sessions(topology: Topology) -> int:
    """Requests HAProxy is forwarding to the web machines right now."""
    return topology.haproxy().sessions(_backend_port(topology))


def start_down_watch(topology: Topology, address: str, seconds: float) -> subprocess.Popen[str]:
    """Watch HAProxy mark the server at ``address`` down; prints the time it first sees it."""
    args = topology.haproxy().watch_arguments(_backend_port(topology), address, seconds)
    return ssh.watch(topology.lb, "haproxy_api", *args)


def start_port_watch(topology: Topology, machine: Machine, seconds: float) -> subprocess.Popen[str]:
    """Watch the app's port on a web machine close; prints the time it first refuses."""
    port = str(topology.var(machine, "webapp_port"))
    return ssh.watch(machine, "port_watch", port, "closed", str(seconds))


def all_web_up(topology: Topology) -> bool:
    states = haproxy_states(topology)
    return all(states.get(m.private_address) == RUNNING for m in topology.web)


def sim_stats(topology: Topology) -> dict[str, Any]:
    """The simulator's own counters, read on its LLM machine (it listens on loopback only)."""
    machine = topology.require_simulator().machine
    url = f"http://127.0.0.1:{topology.var(machine, 'ollama_port')}/sim/stats"
    return json.loads(topology.python(machine, "http_json", url, "", "10").partition("\n")[2])


def app_status(topology: Topology, machine: Machine, path: str) -> int:
    """HTTP status of the app on one web machine, asked on that machine's loopback."""
    url = f"https://127.0.0.1:{topology.var(machine, 'webapp_port')}{path}"
    ca_file = topology.app_ca_path(machine)
    out = topology.python(machine, "https_fetch", "GET", url, "", "{}", ca_file, root=True)
    return json.loads(out)["status"]


def chain_target(topology: Topology, site: SiteClient, question: str, model: str) -> streams.Target:
    """A streaming /api/ask for ``model`` through the whole chain, as the page sends it."""
    return streams.Target(
        host=topology.lb.ansible_host,
        port=443,
        path="/api/ask",
        body=json.dumps({"question": question, "model": model, "stream": True}).encode(),
        headers=(("Cookie", site.cookie), ("Origin", topology.origin)),
        tls=True,
        server_name=topology.hostname,
        ca_file=topology.ca_file,
    )


def check_complete(results: list[streams.StreamResult], tokens: int, what: str) -> None:
    """Every stream ended with its final line and all its tokens; a cut one is named as such."""
    failed = [r.error for r in results if not r.ok]
    # A cut shows as a connection ending mid-answer; an error line or status came from a later hop.
    cut = [e for e in failed if e == "stream ended without a final line" or "Error" in e]
    assert not cut, f"{len(cut)} of {len(results)} streams cut by {what}: {cut[:5]}"
    assert not failed, f"{len(failed)} of {len(results)} streams failed (not cut): {failed[:5]}"
    assert all(r.tokens == tokens for r in results), f"a stream lost tokens across {what}"


class BackgroundStreams:
    """Streams running on their own event loop thread while the test does something else."""

    def __init__(self, target: streams.Target, count: int, timeout: float) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._future = asyncio.run_coroutine_threadsafe(
            streams.run_streams(target, count, timeout), self._loop
        )

    def result(self, timeout: float) -> list[streams.StreamResult]:
        return self._future.result(timeout)

    def close(self) -> None:
        """Cancel whatever still runs (closing its connections), then stop the loop."""

        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(cancel_all(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@dataclass
class Asked:
    """One question and what became of it."""

    question: str
    started: float
    ended: float
    status: int  # 0: no HTTP answer
    code: str = ""  # the error code of a refusal or of an error event
    conversation: str | None = None
    turn: str | None = None
    node: str = ""
    saved: bool | None = None  # from the done event
    retry_after: str = ""


def ask(site: SiteClient, model: str | None, question: str, conversation: str | None) -> Asked:
    """One streamed question in a conversation (None starts one), read to its end; with no
    model, the site's default answers."""
    started = time.time()
    body = {"question": question, "stream": True, "conversation": conversation}
    if model:
        body["model"] = model
    try:
        response = site.request("POST", "/api/ask", json=body, headers={"Origin": site.origin})
    except httpx.HTTPError as error:
        return Asked(question, started, time.time(), 0, type(error).__name__)
    asked = Asked(question, started, time.time(), response.status_code)
    if response.status_code != 200:
        # The app's refusals are JSON; anything else (a proxy's page) keeps no code.
        with contextlib.suppress(ValueError, KeyError, TypeError):
            asked.code = response.json()["error"]["code"]
        asked.retry_after = response.headers.get("Retry-After", "")
        return asked
    for line in response.text.splitlines():
        event = json.loads(line)
        if event["type"] == "meta":
            asked.conversation, asked.turn, asked.node = (
                event["conversation"],
                event["turn"],
                event["node"],
            )
        elif event["type"] == "done":
            asked.saved = event["saved"]
        elif event["type"] == "error":
            asked.code = event["code"]
    return asked


def stored_turns(site: SiteClient, conversation: str) -> list[dict[str, Any]]:
    """The turns the app kept of a conversation, oldest first, read through its API."""
    response = site.request("GET", f"/api/conversations/{conversation}")
    assert response.status_code == 200, (response.status_code, response.text[:200])
    return response.json()["turns"]
