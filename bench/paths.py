"""The two ways the benchmark's streams reach a model.

Direct path: the same client (deploykit/probes/stream_client.py, standard library only) runs ON the
LLM machine and talks to Ollama (or the simulator) on its loopback, as Ollama's own clients would.
An SSH tunnel would put ssh's encryption and its channel buffering into the baseline, making the
chain look cheaper than it is and merging reads that the model server wrote apart. Running on the
LLM machine keeps the baseline to "model server + loopback + this client"; the clock is the same
(containers share the kernel) and the CPUs are the same, so subtracting direct from chain leaves
what HAProxy, Apache + mod_wsgi, the app and the gateway add.

Full chain: HTTPS to HAProxy by name (SNI, verified against the ACME root), logged in as the
deployment's initial user, POST /api/ask with stream true.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass
from typing import Any

from deploykit.probes import stream_client as streams
from deploykit.topology import Machine, Topology


@dataclass(frozen=True)
class Load:
    """``level`` streams at once, ``rounds`` times one after another, each within ``timeout``."""

    level: int
    rounds: int
    timeout: float


def on_machine(
    topology: Topology,
    machine: Machine,
    argv: list[str],
    rounds: int,
    timeout: float,
    headers: str = "",
    root: bool = False,
) -> list[dict[str, Any]]:
    """Run the stream client on a machine of the topology; headers travel on stdin."""
    argv = [*argv, "--sequential", str(rounds), "--timeout", str(timeout)]
    if headers:
        argv.append("--stdin-headers")
    out = topology.python(
        machine, "stream_client", *argv, root=root, stdin=headers, timeout=timeout * rounds + 60
    )
    return json.loads(out)


def direct(
    topology: Topology, machine: Machine, body: dict[str, Any], load: Load
) -> list[dict[str, Any]]:
    """The load's streams to Ollama's /api/generate on the machine's loopback."""
    port = str(topology.var(machine, "ollama_port"))
    argv = ["--host", "127.0.0.1", "--port", port, "--body", json.dumps(body)]
    argv += ["--streams", str(load.level)]
    results = on_machine(topology, machine, argv, load.rounds, load.timeout)
    for result in results:
        result["llm"] = machine.name
    return results


def chain(
    topology: Topology, cookie: str, body: dict[str, Any], load: Load
) -> list[dict[str, Any]]:
    """The load's streams through HAProxy, Apache, the app and the gateway, from this machine;
    ``body`` is /api/ask's."""
    target = streams.Target(
        host=topology.lb.ansible_host,
        port=443,
        path="/api/ask",
        body=json.dumps(body).encode(),
        headers=(("Cookie", cookie), ("Origin", topology.origin)),
        tls=True,
        server_name=topology.hostname,
        ca_file=topology.ca_file,
    )
    results: list[dict[str, Any]] = []
    for _ in range(load.rounds):
        batch = asyncio.run(streams.run_streams(target, load.level, load.timeout))
        results += [asdict(r) for r in batch]
    return results
