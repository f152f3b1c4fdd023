"""Converges that replace the app's container on every web machine cut no answer and refuse no
question.

site.yml runs the web machines one at a time. Before the app's container stops (re-created for a
new image tag or option, restarted for new settings), the webapp role drains the machine in
HAProxy (haproxy-server drain: no new question goes to it, and the answers it is streaming run to
their end), then puts it back once HAProxy's checks pass, and only then moves on. The test runs
two converges under a steady flow of questions: one with another container option (a
re-creation) and webapp_restart (a restart), then one that puts the option back.
"""

import asyncio
import subprocess
import threading
from datetime import datetime

import pytest
from chain_support import chain_target, check_complete

from deploykit.probes import stream_client as streams

ASKERS = 8
TOKENS = 30
# About 3 s per answer: several are always in flight on each machine.
QUESTION = f"[[sim:tokens={TOKENS}]] [[sim:tps=10]] during a rolling restart"
MAX_QUESTIONS = 3000
CONVERGE_SECONDS = 900


def _started_ns(topology, machine) -> int:
    """When the app's container on a machine last started, in ns of the shared wall clock."""
    name = topology.var(machine, "webapp_container_name")
    stamp = topology.run(machine, f"docker inspect --format '{{{{.State.StartedAt}}}}' {name}")
    # RFC 3339 with nanoseconds; datetime takes microseconds.
    seconds, _, fraction = stamp.stdout.strip().removesuffix("Z").partition(".")
    started = datetime.fromisoformat(f"{seconds}.{fraction[:6] or '0'}+00:00")
    return int(started.timestamp() * 1_000_000) * 1000


def _ask_until(target: streams.Target, stop: threading.Event, results: list) -> None:
    """ASKERS questions in flight at all times until ``stop`` (at most MAX_QUESTIONS)."""

    async def asker() -> None:
        while not stop.is_set() and len(results) < MAX_QUESTIONS:
            results.extend(await streams.run_streams(target, 1, 60))

    async def all_askers() -> None:
        await asyncio.gather(*(asker() for _ in range(ASKERS)))

    asyncio.run(all_askers())


# Two converges of a few minutes each, each bounded by CONVERGE_SECONDS.
@pytest.mark.timeout(2 * CONVERGE_SECONDS + 300)
def test_rolling_replacement_cuts_no_answer(topology, site, sim, converge) -> None:
    """Every question asked while two converges replace each web machine's container gets its
    whole answer, and each machine answers again afterwards."""
    target = chain_target(topology, site, QUESTION, sim.model)
    pids_limit = int(topology.var(topology.web[0], "webapp_pids_limit"))
    changes = [
        ["-e", f"webapp_pids_limit={pids_limit + 1}", "-e", "webapp_restart=true"],
        ["-e", f"webapp_pids_limit={pids_limit}"],
    ]
    before = {m.name: _started_ns(topology, m) for m in topology.web}
    results: list[streams.StreamResult] = []
    stop = threading.Event()
    asking = threading.Thread(target=_ask_until, args=(target, stop, results), daemon=True)
    asking.start()
    try:
        runs = [
            subprocess.run(
                [*converge, "--limit", "llm,db,web", *change],
                capture_output=True,
                text=True,
                timeout=CONVERGE_SECONDS,
                check=False,
            )
            for change in changes
        ]
    finally:
        stop.set()
        asking.join(90)
    assert not asking.is_alive(), "questions were still running 90 s after the converges"
    for run in runs:
        assert run.returncode == 0, f"converge failed:\n{run.stdout[-4000:]}\n{run.stderr[-2000:]}"

    after = {m.name: _started_ns(topology, m) for m in topology.web}
    assert all(after[n] > before[n] for n in before), f"not every app restarted: {before} {after}"
    assert len(results) >= ASKERS * len(topology.web), f"only {len(results)} questions asked"
    check_complete(results, TOKENS, "the rolling replacement")

    # Back in the load balancer: with both idle, leastconn gives each machine some of these.
    results += asyncio.run(streams.run_streams(target, ASKERS, 60))
    check_complete(results, TOKENS, "the rolling replacement (questions after it)")
    for name, started in after.items():
        assert any(r.served_by == name and r.sent_ns > started for r in results), (
            f"{name} answered no question after its last start: it was not put back"
        )
