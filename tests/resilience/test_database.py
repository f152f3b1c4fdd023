"""The shared database under faults: PostgreSQL restarting during traffic loses and duplicates no
turn; while it is down, questions are refused with 503 database_unavailable instead of being
answered and forgotten, and the app recovers by itself once it is back; a web machine dying
mid-answer loses none of the conversation's earlier turns, and the conversation goes on on
another machine.

Questions go to the simulator through HAProxy, in conversations, as the page sends them
(streamed); what was kept is read back through the app's own API.
"""

import contextlib
import json
import threading
import time

import httpx
from chain_support import (
    SHORT_ANSWER,
    Asked,
    all_web_up,
    ask,
    haproxy_states,
    stored_turns,
    wait_for,
)

from deploykit.topology import Machine, Topology

# Traffic during the restart: bounded in askers, questions each, and time.
ASKERS = 4
QUESTIONS_PER_ASKER = 300
TRAFFIC_LIMIT_S = 120
# The app reconnects by itself within this long after PostgreSQL is back.
RECOVERY_S = 30
# Questions asked while PostgreSQL is stopped (each waits a few seconds for a connection).
REFUSED_QUESTIONS = 4


def _asker(site, model, number: int, stop: threading.Event, log: list[Asked]) -> None:
    """Questions in one conversation, one after another, until told to stop or out of bounds."""
    conversation = None
    deadline = time.monotonic() + TRAFFIC_LIMIT_S
    for index in range(QUESTIONS_PER_ASKER):
        if stop.is_set() or time.monotonic() > deadline:
            return
        asked = ask(site, model, f"{SHORT_ANSWER} asker {number} question {index}", conversation)
        conversation = conversation or asked.conversation
        log.append(asked)


def test_database_restart_loses_and_duplicates_no_turn(topology: Topology, site, sim) -> None:
    """Every saved turn is kept once, refusals are 503 database_unavailable, recovery is quick."""
    stop, log = threading.Event(), []
    askers = [
        threading.Thread(target=_asker, args=(site, sim.model, n, stop, log)) for n in range(ASKERS)
    ]
    try:
        for asker in askers:
            asker.start()
        wait_for("answers before the restart", lambda: len(log), lambda n: n >= 2 * ASKERS, 30)
        restart_began = time.time()
        topology.run(topology.db, f"systemctl restart {topology.postgresql_unit()}", timeout=120)
        restarted = time.time()
        wait_for(
            "a question answered and saved after the restart",
            lambda: [a for a in log if a.started > restarted and a.saved],
            bool,
            RECOVERY_S,
        )
        time.sleep(2)  # and traffic goes on a little after it
    finally:
        stop.set()
        for asker in askers:
            asker.join(TRAFFIC_LIMIT_S)
    conversations = {a.conversation for a in log if a.conversation}
    kept = {c: stored_turns(site, c) for c in conversations}

    during = [a for a in log if a.ended >= restart_began and a.started <= restarted]
    assert during, "no question was asked while PostgreSQL restarted: the test proved nothing"
    refused = [a for a in log if a.status != 200]
    wrong = [a for a in refused if (a.status, a.code) != (503, "database_unavailable")]
    assert not wrong, f"refused otherwise than with 503 database_unavailable: {wrong[:3]}"
    assert all(int(a.retry_after) > 0 for a in refused), "a refusal without Retry-After"
    answered = [a for a in log if a.status == 200]
    assert all(a.saved is not None and not a.code for a in answered), [
        a for a in answered if a.saved is None or a.code
    ][:3]
    lost = [a for a in answered if not a.saved]
    assert not lost, (
        f"{len(lost)} answers given but not kept (saved: false), the restart took "
        f"{restarted - restart_began:.1f} s: {lost[:3]}"
    )

    ids = [turn["id"] for turns in kept.values() for turn in turns]
    assert len(ids) == len(set(ids)), "a turn is stored twice"
    for asked in answered:
        assert [t["id"] for t in kept[asked.conversation]].count(asked.turn) == 1, asked
    stored_questions = {t["question"] for turns in kept.values() for t in turns}
    assert not stored_questions & {a.question for a in refused}, "a refused question was kept"
    assert {t["status"] for turns in kept.values() for t in turns} == {"done"}, "a half turn"
    print(
        f"{len(log)} questions, {len(during)} during the restart "
        f"({restarted - restart_began:.1f} s), {len(refused)} refused, {len(ids)} turns kept"
    )


def test_database_down_refuses_questions_and_recovers(topology: Topology, site, sim) -> None:
    """With PostgreSQL stopped, every question and API call gets 503 database_unavailable with
    Retry-After and nothing of them is kept; once it is back the same conversation goes on."""
    # Answered and kept first: an earlier test may have left the app reconnecting.
    before = wait_for(
        "a question answered and saved before the stop",
        lambda: ask(site, sim.model, f"{SHORT_ANSWER} before the stop", None),
        lambda asked: asked.saved,
        RECOVERY_S,
    )
    conversation = before.conversation
    topology.run(topology.db, f"systemctl stop {topology.postgresql_unit()}", timeout=120)
    try:
        refused = [
            ask(site, sim.model, f"{SHORT_ANSWER} while down {n}", conversation if n % 2 else None)
            for n in range(REFUSED_QUESTIONS)
        ]
        listing = site.request("GET", "/api/conversations")
    finally:
        topology.run(topology.db, f"systemctl start {topology.postgresql_unit()}", timeout=120)
        started = time.time()
    after = wait_for(
        "a question answered and saved once PostgreSQL is back",
        lambda: ask(site, sim.model, f"{SHORT_ANSWER} after the start", conversation),
        lambda asked: asked.saved,
        RECOVERY_S,
    )
    print(f"answered and kept again {after.ended - started:.1f} s after PostgreSQL started")
    turns = stored_turns(site, conversation)

    for asked in refused:
        assert (asked.status, asked.code) == (503, "database_unavailable"), asked
        assert int(asked.retry_after) > 0, asked
    assert listing.status_code == 503
    assert listing.json()["error"]["code"] == "database_unavailable"
    assert [t["id"] for t in turns] == [before.turn, after.turn], "a refused question was kept"


def _machine(topology: Topology, name: str) -> Machine:
    return next(m for m in topology.web if m.name == name)


def _container(topology: Topology, machine: Machine) -> str:
    return topology.var(machine, "webapp_container_name")


def test_web_machine_dying_mid_answer_keeps_the_earlier_turns(topology, site, sim) -> None:
    """The earlier turns survive the machine, and the conversation goes on on another one."""
    assert all_web_up(topology), "every web machine must be up before the test"
    earlier: list[Asked] = []
    conversation = None
    for number in range(2):
        asked = ask(site, sim.model, f"{SHORT_ANSWER} earlier {number}", conversation)
        assert (asked.status, asked.saved) == (200, True), asked
        conversation = asked.conversation
        earlier.append(asked)
    victim: Machine | None = None
    body = {
        "question": "[[sim:tokens=300]] [[sim:tps=10]] cut short",
        "model": sim.model,
        "stream": True,
        "conversation": conversation,
    }
    try:
        with site.stream(
            "POST", "/api/ask", json=body, headers={"Origin": topology.origin}
        ) as response:
            assert response.status_code == 200
            lines = response.iter_lines()
            meta = json.loads(next(lines))
            assert json.loads(next(lines))["type"] == "token", "the answer did not start"
            victim = _machine(topology, meta["node"])
            topology.run(victim, f"docker stop {_container(topology, victim)}", timeout=60)
            with contextlib.suppress(httpx.HTTPError):
                ended = [json.loads(line)["type"] for line in lines]
                assert "done" not in ended, "the answer completed on a stopped machine"
        wait_for(
            f"HAProxy marking {victim.name} down",
            lambda: haproxy_states(topology).get(victim.private_address),
            lambda state: state == 0,
            30,
        )
        after = ask(site, sim.model, f"{SHORT_ANSWER} after", conversation)
        turns = stored_turns(site, conversation)
    finally:
        if victim is not None:
            topology.run(victim, f"docker start {_container(topology, victim)}", timeout=60)
            wait_for("every web machine back up in HAProxy", lambda: all_web_up(topology), bool, 90)

    assert (after.status, after.saved) == (200, True), after
    assert after.node != victim.name
    ids = [turn["id"] for turn in turns]
    assert ids[:2] == [a.turn for a in earlier], "an earlier turn was lost"
    assert ids[-1] == after.turn
    # The cut answer is kept at most once, as far as it got, and never as a complete one.
    cut = [turn for turn in turns if turn["id"] == meta["turn"]]
    assert len(cut) <= 1 and all(turn["status"] != "done" for turn in cut), cut
    assert len(ids) == len(set(ids))
