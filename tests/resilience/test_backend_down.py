"""Ollama stops on every LLM machine: readiness fails, a question gets a clear error at once, and
a restart heals all.

Nothing is restarted by hand but Ollama itself: the web machines must notice it is back on their
own (no app restart, no HAProxy action). One machine down of several is test_llm_failover's case.
"""

import asyncio
import time

from chain_support import app_status, chain_target, wait_for

from deploykit.probes import stream_client as streams

SERVICE = "ollama"  # the unit the ollama role installs, for a release and the simulator alike
ERROR_WITHIN_S = 1.0
KNOWN_CODES = ("backend_unreachable", "backend_error", "backend_busy", "backend_timeout")


def _ask(topology, site, question: str, model: str) -> streams.StreamResult:
    target = chain_target(topology, site, question, model)
    (result,) = asyncio.run(streams.run_streams(target, 1, 60))
    return result


def _all_ready(topology) -> list[int]:
    return [app_status(topology, machine, "/readyz") for machine in topology.web]


def test_backend_down_and_back(topology, site, sim) -> None:
    """/readyz fails and the page gets a clear error within 1 s; all recovers on restart."""
    assert _all_ready(topology) == [200] * len(topology.web), "not ready before the test"
    try:
        for machine in topology.llm:
            topology.run(machine, f"systemctl stop {SERVICE}")
        readiness = _all_ready(topology)
        through_haproxy = site.request("GET", "/readyz").status_code
        result = _ask(topology, site, "[[sim:tokens=5]] anyone there?", sim.model)
    finally:
        for machine in topology.llm:
            topology.run(machine, f"systemctl start {SERVICE}")
        started = time.monotonic()
    assert all(status == 503 for status in readiness), f"/readyz with Ollama down: {readiness}"
    assert through_haproxy == 503
    took = (result.end_ns - result.sent_ns) / 1e9
    assert not result.ok and any(code in result.error for code in KNOWN_CODES), result.error
    assert took <= ERROR_WITHIN_S, f"the error took {took:.2f} s to arrive"

    wait_for(
        "every web machine ready again",
        lambda: _all_ready(topology),
        lambda s: s == [200] * len(topology.web),
        60,
    )
    recovered = _ask(topology, site, "[[sim:tokens=5]] back?", sim.model)
    assert recovered.ok, f"no answer after Ollama came back: {recovered.error}"
    print(f"recovered {time.monotonic() - started:.1f} s after the restart")
