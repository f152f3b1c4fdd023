"""A graceful HAProxy reload in the middle of 50 answers cuts none of them.

Debian's unit runs HAProxy in master-worker mode; `systemctl reload` starts a new worker with
the listening sockets handed over, and the old one finishes its open streams. The test checks
that a new worker really took over, so a reload that silently did nothing cannot pass.
"""

from chain_support import BackgroundStreams, chain_target, haproxy_sessions, wait_for

STREAMS = 50
# How the unit's main process (the master) lists its workers: the kernel's children file.
WORKERS = (
    'pid=$(systemctl show --property MainPID --value haproxy); cat "/proc/$pid/task/$pid/children"'
)


def _workers(topology) -> set[str]:
    return set(topology.run(topology.lb, WORKERS).stdout.split())


def test_reload_cuts_no_stream(topology, site) -> None:
    """50 streams in flight across a reload all end with their final line."""
    before = _workers(topology)
    background = BackgroundStreams(
        chain_target(topology, site, "[[sim:tokens=60]] [[sim:tps=10]] across a reload"),
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
    after = _workers(topology)
    assert after - before, f"no new HAProxy worker after the reload ({before} -> {after})"
    failed = [r.error for r in results if not r.ok]
    # A cut shows as a connection ending mid-answer; an error line or status came from a later hop.
    cut = [e for e in failed if e == "stream ended without a final line" or "Error" in e]
    assert not cut, f"{len(cut)} of {STREAMS} streams cut by the reload: {cut[:5]}"
    assert not failed, f"{len(failed)} of {STREAMS} streams failed (not cut): {failed[:5]}"
    assert all(r.tokens == 60 for r in results), "a stream lost tokens across the reload"
