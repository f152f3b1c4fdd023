"""Helpers of the resilience tests: remote probes, polling, streams in the background.

A module of its own (not conftest.py) so that test modules can import it by a unique name.
"""

import asyncio
import contextlib
import json
import shlex
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from bench import streams
from bench.topology import Machine, SiteClient, Topology, app_ca_path, role_default

T = TypeVar("T")

# A question the simulator answers at once, for tests about what happens around answers.
SHORT_ANSWER = "[[sim:tokens=3]] [[sim:tps=100]]"

# Reads HAProxy's runtime API on the load balancer, for the servers on the web app's PORT.
# "states" prints {server address: op state} (0 stopped, 1 starting, 2 running, 3 stopping);
# "sessions" prints how many requests those servers are handling now (in flight through HAProxy);
# "watch" prints "ready", then the wall-clock time at which the server at ADDRESS is first seen
# stopped, polling every 50 ms for at most LIMIT seconds ("timeout" then).
HAPROXY_PROBE = r"""
import json, socket, sys, time
path, port, mode, address = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
limit = float(sys.argv[5])
def ask(command):
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(path)
        s.sendall(command)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data
def states():
    data = ask(b"show servers state\n")
    header, out = None, {}
    for line in data.decode().splitlines():
        if line.startswith("# be_id"):
            header = line[2:].split()
        elif header and line[:1].isdigit():
            row = dict(zip(header, line.split()))
            if row["srv_port"] == port:
                out[row["srv_addr"]] = int(row["srv_op_state"])
    return out
if mode == "states":
    print(json.dumps(states()))
    sys.exit(0)
if mode == "sessions":
    rows = ask(b"show stat\n").decode().splitlines()
    header = rows[0].lstrip("# ").split(",")
    stats = [dict(zip(header, row.split(","))) for row in rows[1:] if row]
    print(sum(int(r["scur"]) for r in stats if r.get("addr", "").endswith(":" + port)))
    sys.exit(0)
print("ready", flush=True)
deadline = time.time() + limit
while time.time() < deadline:
    if states().get(address) == 0:
        print(time.time(), flush=True)
        sys.exit(0)
    time.sleep(0.05)
print("timeout", flush=True)
"""

# Prints "ready", then the wall-clock time at which 127.0.0.1:PORT first refuses a connection,
# trying every 20 ms for at most LIMIT seconds ("timeout" then).
PORT_CLOSED_PROBE = r"""
import socket, sys, time
port, limit = int(sys.argv[1]), float(sys.argv[2])
print("ready", flush=True)
deadline = time.time() + limit
while time.time() < deadline:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        print(time.time(), flush=True)
        sys.exit(0)
    time.sleep(0.02)
print("timeout", flush=True)
"""

SIM_STATS_PROBE = r"""
import sys, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}/sim/stats"
print(urllib.request.urlopen(url, timeout=10).read().decode())
"""

# The app's port speaks TLS; its certificate is checked against the machine's CA (CA_FILE).
APP_PROBE = r"""
import ssl, sys, urllib.error, urllib.request
port, path, ca_file = sys.argv[1:4]
context = ssl.create_default_context(cafile=ca_file)
try:
    url = f"https://127.0.0.1:{port}{path}"
    with urllib.request.urlopen(url, timeout=10, context=context) as response:
        print(response.status)
except urllib.error.HTTPError as error:
    print(error.code)
except OSError:
    print(0)
"""


def wait_for(what: str, probe: Callable[[], T], ok: Callable[[T], bool], seconds: float) -> T:
    """Poll ``probe`` until ``ok`` holds, at most ``seconds``; fail naming ``what`` otherwise."""
    deadline = time.monotonic() + seconds
    while True:
        value = probe()
        if ok(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached within {seconds} s (last: {value!r})")
        time.sleep(0.25)


def haproxy_states(topology: Topology) -> dict[str, int]:
    """Operational state of every HAProxy server, by address (2 means up)."""
    args = (*_haproxy_probe_args(), "states", "-", "0")
    return json.loads(topology.python(topology.lb, HAPROXY_PROBE, *args, root=True))


def haproxy_sessions(topology: Topology) -> int:
    """Requests HAProxy is forwarding to the web machines right now."""
    args = (*_haproxy_probe_args(), "sessions", "-", "0")
    return int(topology.python(topology.lb, HAPROXY_PROBE, *args, root=True))


def _haproxy_probe_args() -> tuple[str, str]:
    return (
        role_default("haproxy", "haproxy_admin_socket"),
        str(role_default("haproxy", "haproxy_backend_port")),
    )


def start_watch(topology: Topology, machine: Machine, *args: str) -> subprocess.Popen[str]:
    """Start a probe on a machine that prints "ready", then one line when it sees its event.

    Returns once the probe runs, so that an event caused next is seen from its start.
    """
    remote = "sudo -n python3 -c " + " ".join(shlex.quote(a) for a in args)
    process = subprocess.Popen(
        [*topology.ssh_argv(machine), remote], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    first = process.stdout.readline().strip()
    if first != "ready":
        process.kill()
        raise AssertionError(f"the watch on {machine.name} did not start: {first!r}")
    return process


def start_down_watch(topology: Topology, address: str, seconds: float) -> subprocess.Popen[str]:
    """Watch HAProxy mark the server at ``address`` down; prints the time it first sees it."""
    args = (HAPROXY_PROBE, *_haproxy_probe_args(), "watch", address, str(seconds))
    return start_watch(topology, topology.lb, *args)


def start_port_watch(topology: Topology, machine: Machine, seconds: float) -> subprocess.Popen[str]:
    """Watch the app's port on a web machine close; prints the time it first refuses."""
    port = str(role_default("webapp", "webapp_port"))
    return start_watch(topology, machine, PORT_CLOSED_PROBE, port, str(seconds))


def all_web_up(topology: Topology) -> bool:
    states = haproxy_states(topology)
    return all(states.get(m.private_address) == 2 for m in topology.web)


def sim_stats(topology: Topology) -> dict[str, Any]:
    """The simulator's own counters, read on its LLM machine (it listens on loopback only)."""
    machine = topology.require_simulator().machine
    port = str(topology.var(machine, "ollama", "ollama_port"))
    return json.loads(topology.python(machine, SIM_STATS_PROBE, port))


def app_status(topology: Topology, machine: Machine, path: str) -> int:
    """HTTP status of the app on one web machine, asked on that machine's loopback."""
    port = str(role_default("webapp", "webapp_port"))
    return int(topology.python(machine, APP_PROBE, port, path, app_ca_path(), root=True).strip())


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
        response = site.request(
            "POST", "/api/ask", json=body, headers={"Origin": site.topology.origin}
        )
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
