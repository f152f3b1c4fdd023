"""A web machine dies under load: no new request fails, HAProxy notices fast, streams end clearly.

The failure is the app container stopping (`docker stop`) on one web machine, not the machine's
own container: it is the failure HAProxy's health checks exist for (the process is gone, the port
refuses), it is undone with one `docker start`, and it leaves sshd up so the test can restore it.
Stopping the whole "VM" would also take its address off the network, which the local topology's
Terraform owns; a hung machine (packets dropped) is the one case this does not cover.
"""

import threading
import time

import httpx
from chain_support import (
    BackgroundStreams,
    all_web_up,
    chain_target,
    start_down_watch,
    start_port_watch,
    wait_for,
)

from deploykit.topology import Topology

DETECTION_TARGET_S = 3.0


def _health_settings(topology: Topology) -> str:
    names = ("interval", "fall", "rise")
    return ", ".join(f"{n} {topology.var(topology.lb, f'haproxy_health_check_{n}')}" for n in names)


def _load(site, model: str, stop: threading.Event, log: list[tuple[float, float, str]]) -> None:
    """New requests, one after another, until told to stop (bounded in count as well)."""
    for number in range(400):
        if stop.is_set():
            return
        started = time.time()
        try:
            if number % 2:
                response = site.request("GET", "/healthz")
            else:
                response = site.request(
                    "POST",
                    "/api/ask",
                    headers={"Origin": site.origin},
                    json={
                        "question": "[[sim:tokens=2]] [[sim:tps=100]] alive?",
                        "model": model,
                        "stream": False,
                    },
                )
            outcome = "ok" if response.status_code == 200 else f"HTTP {response.status_code}"
        except httpx.HTTPError as error:
            outcome = f"{type(error).__name__}: {error}"
        log.append((started, time.time(), outcome))


def test_dead_web_machine(topology, site, sim) -> None:
    """0 failed new requests, down within 3 s, in-flight streams on it end with an error."""
    victim = topology.web[0]
    assert all_web_up(topology), "every web machine must be up before the test"
    in_flight = BackgroundStreams(
        chain_target(topology, site, "[[sim:tokens=60]] [[sim:tps=10]] in flight", sim.model),
        10,
        60,
    )
    watcher = start_down_watch(topology, victim.private_address, 30)
    port_watch = start_port_watch(topology, victim, 30)
    stop, log = threading.Event(), []
    workers = [threading.Thread(target=_load, args=(site, sim.model, stop, log)) for _ in range(12)]
    try:
        for worker in workers:
            worker.start()
        time.sleep(2)  # the streams are under way, the load runs on both machines
        stopped_at = time.time()
        topology.run(
            victim, f"docker stop {topology.var(victim, 'webapp_container_name')}", timeout=60
        )
        # From here the app is gone: a request started later is a new request to a dead machine.
        dead_at = time.time()
        line = watcher.communicate(timeout=40)[0].strip()
        closed = port_watch.communicate(timeout=40)[0].strip()
        time.sleep(5)  # keep the load on after detection too
        stop.set()
        for worker in workers:
            worker.join(60)
        results = in_flight.result(90)
    finally:
        stop.set()
        in_flight.close()
        for process in (watcher, port_watch):
            if process.poll() is None:
                process.kill()
        topology.run(
            victim, f"docker start {topology.var(victim, 'webapp_container_name')}", timeout=60
        )
        wait_for("every web machine back up in HAProxy", lambda: all_web_up(topology), bool, 90)

    assert line != "timeout", f"HAProxy never marked {victim.name} down within 30 s"
    assert closed != "timeout", f"the app's port on {victim.name} stayed open for 30 s"
    # From the moment the port refused connections (Apache may take seconds to stop entirely).
    detection = float(line) - float(closed)
    new = [entry for entry in log if entry[0] > dead_at]
    print(
        f"{victim.name}: port closed, marked down {detection:.2f} s later; {len(new)} new requests"
    )
    failed = [entry for entry in new if entry[2] != "ok"]
    # A stream cut before its response head arrived carries no X-Served-By: count it as the
    # victim's too (the other machine is untouched, and its streams must all succeed).
    on_victim = [r for r in results if r.served_by in (victim.name, "")]
    elsewhere = [r for r in results if r.served_by and r.served_by != victim.name]
    assert len(new) >= 10, f"too little load after the stop to prove anything ({len(new)})"
    assert not failed, f"{len(failed)} of {len(new)} new requests failed: {failed[:5]}"
    assert on_victim, "no in-flight stream was on the stopped machine; cannot check them"
    for result in on_victim:
        assert not result.ok and result.error, "a stream on the dead machine looked complete"
        ended_after = result.end_ns / 1e9 - stopped_at
        assert ended_after < 10, f"a stream on the dead machine hung for {ended_after:.1f} s"
    assert all(r.ok for r in elsewhere), [r.error for r in elsewhere if not r.ok]
    assert detection <= DETECTION_TARGET_S, (
        f"HAProxy marked {victim.name} down {detection:.2f} s after its port closed (docker stop "
        f"took {dead_at - stopped_at:.2f} s); health checks: {_health_settings(topology)}"
    )
