"""Beyond capacity, a new question is refused at once with a message, and service returns after.

The configured capacity is Ollama's queue (ollama_max_queue): that many questions held open, the
next one must get 503 (or 429) within 1 s, which the page shows as a message. If another layer
(mod_wsgi threads, the gateway's workers, HAProxy) runs out first, the held questions never all
reach the model and the extra ones wait instead of being refused: the test fails and says so.
"""

import time

import pytest
from chain_support import BackgroundStreams, chain_target, sim_stats, wait_for

REFUSAL_WITHIN_S = 1.0
PROBES = 5


@pytest.mark.timeout(600)
def test_overload_refuses_fast_and_recovers(topology, site, sim) -> None:
    """At capacity, extra questions get 503/429 within 1 s; after the load, answers again."""
    capacity = int(topology.var(sim.machine, "ollama_max_queue"))
    # Held questions stall before their first token: they occupy every layer but cost no CPU,
    # for long enough to probe once they are all in, and short enough to drain quickly.
    hold = chain_target(
        topology, site, "[[sim:stall=15]] [[sim:tokens=1]] hold the line", sim.model
    )
    holders = BackgroundStreams(hold, capacity, 300)
    refusals = []
    try:
        reached = wait_for(
            f"{capacity} held questions reaching the model",
            lambda: sim_stats(topology)["active"],
            lambda n: n >= capacity,
            40,
        )
        for _ in range(PROBES):
            started = time.monotonic()
            response = site.request(
                "POST",
                "/api/ask",
                headers={"Origin": topology.origin},
                json={"question": "[[sim:tokens=2]] one more?", "model": sim.model, "stream": True},
            )
            refusals.append((time.monotonic() - started, response))
    finally:
        holders.close()
        # Held questions end at the model only when their stall does, and any still queued in a
        # layer below still reach it (the reader left, but nothing told that layer): wait until
        # the chain is idle, so the next test starts on a quiet topology.
        wait_for(
            "the model's queue draining",
            lambda: sim_stats(topology)["active"],
            lambda n: n == 0,
            240,
        )
    assert reached >= capacity
    for took, response in refusals:
        assert response.status_code in (429, 503), f"HTTP {response.status_code} beyond capacity"
        assert took <= REFUSAL_WITHIN_S, f"the refusal took {took:.2f} s"
        assert response.json()["error"]["message"], "the refusal carries no message for the page"

    after = site.request(
        "POST",
        "/api/ask",
        headers={"Origin": topology.origin},
        json={"question": "[[sim:tokens=2]] better now?", "model": sim.model, "stream": False},
    )
    assert after.status_code == 200 and after.json()["answer"], after.text
