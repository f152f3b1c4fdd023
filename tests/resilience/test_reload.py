"""Graceful reloads in the middle of 50 answers cut none of them: HAProxy's, and the gateway's.

Debian's unit runs HAProxy in master-worker mode; `systemctl reload` starts a new worker with
the listening sockets handed over, and the old one finishes its open streams. The gateway's Apache
reloads gracefully too: a child of the new generation starts in one of the ServerLimit slots kept
for it while the old child finishes its streams. Each test checks that a new worker or child
really took over, so a reload that silently did nothing cannot pass.
"""

import asyncio

from chain_support import (
    BackgroundStreams,
    chain_target,
    check_complete,
    haproxy_sessions,
    sim_stats,
    wait_for,
)

from deploykit.probes import stream_client as streams

STREAMS = 50


def _children(topology, machine, unit: str) -> set[str]:
    """The processes a unit's main process has started (HAProxy's workers, Apache's children)."""
    main = f"pid=$(systemctl show --property MainPID --value {unit}); "
    return set(topology.run(machine, main + 'cat "/proc/$pid/task/$pid/children"').stdout.split())


def test_reload_cuts_no_stream(topology, site, sim) -> None:
    """50 streams in flight across a HAProxy reload all end with their final line."""
    before = _children(topology, topology.lb, "haproxy")
    background = BackgroundStreams(
        chain_target(topology, site, "[[sim:tokens=60]] [[sim:tps=10]] across a reload", sim.model),
        STREAMS,
        90,
    )
    try:
        # In flight through HAProxy, whether or not a later hop still queues some of them.
        wait_for(
            f"{STREAMS} streams in flight through HAProxy",
            lambda: haproxy_sessions(topology),
            lambda n: n >= STREAMS,
            30,
        )
        topology.run(topology.lb, "systemctl reload haproxy")
        results = background.result(120)
    finally:
        background.close()
    after = _children(topology, topology.lb, "haproxy")
    assert after - before, f"no new HAProxy worker after the reload ({before} -> {after})"
    check_complete(results, 60, "the reload")


def test_gateway_reloads_cut_no_stream(topology, site, sim) -> None:
    """50 streams at the model across back-to-back gateway reloads all end with their final line,
    and a question asked after the reloads is answered while the old child still streams."""
    gateway = sim.machine
    reloads = int(topology.var(gateway, "llm_gateway_reload_generations"))
    before = _children(topology, gateway, "apache2")
    idle = sim_stats(topology)["active"]
    background = BackgroundStreams(
        chain_target(
            topology, site, "[[sim:tokens=100]] [[sim:tps=10]] across gateway reloads", sim.model
        ),
        STREAMS,
        120,
    )
    try:
        wait_for(
            f"{STREAMS} streams at the model, through the gateway",
            lambda: sim_stats(topology)["active"] - idle,
            lambda n: n >= STREAMS,
            30,
        )
        for _ in range(reloads):
            topology.run(gateway, "systemctl reload apache2")
        after = _children(topology, gateway, "apache2")
        assert before & after, "the old gateway child is gone: its streams were cut"
        assert after - before, f"no new gateway child after the reloads ({before} -> {after})"
        newcomer = asyncio.run(
            streams.run_streams(
                chain_target(
                    topology, site, "[[sim:tokens=5]] asked after gateway reloads", sim.model
                ),
                1,
                30,
            )
        )
        in_flight = sim_stats(topology)["active"] - idle
        results = background.result(150)
    finally:
        background.close()
    check_complete(newcomer, 5, "the reloads (a new question)")
    assert in_flight > 0, "the old streams ended before the new question: nothing was shown"
    check_complete(results, 100, "the gateway reloads")
