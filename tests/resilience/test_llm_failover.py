"""Several LLM machines serving one model share its questions, and one of them going down fails
no new question: the web machines leave it out and send its questions to another.

These tests ask real questions of the model that two or more LLM machines serve (on the local
topology, SmolLM2 on real Ollama); they do not use the simulator.
"""

import json
from collections import Counter
from dataclasses import dataclass

import pytest
from chain_support import wait_for

from deploykit.topology import Machine, Topology

QUESTIONS = 8
RECOVERY_SECONDS = 90


@dataclass(frozen=True)
class SharedModel:
    """A model and the machines that serve it."""

    name: str
    machines: tuple[Machine, ...]


@pytest.fixture(scope="module")
def shared(topology: Topology) -> SharedModel:
    """The first model that two or more LLM machines serve (the simulator's are never shared)."""
    served: dict[str, list[Machine]] = {}
    for machine in topology.llm:
        for model in topology.ollama(machine)["models"]:
            served.setdefault(model, []).append(machine)
    for model, machines in served.items():
        if len(machines) >= 2:
            return SharedModel(model, tuple(machines))
    pytest.skip(f"no model is served by two LLM machines of {topology.inventory_file}")


def _ask(topology: Topology, site, model: str, question: str) -> dict:
    """One streamed question through HAProxy: the LLM machine that answered, and how it ended."""
    response = site.request(
        "POST",
        "/api/ask",
        headers={"Origin": topology.origin},
        json={"question": question, "model": model, "stream": True},
        timeout=120,
    )
    if response.status_code != 200:
        return {"llm": None, "end": f"HTTP {response.status_code}: {response.text[:200]}"}
    events = [json.loads(line) for line in response.text.splitlines() if line.strip()]
    last = events[-1]
    end = "done" if last["type"] == "done" else f"{last.get('code')}: {last.get('message')}"
    return {"llm": events[0].get("llm"), "end": end}


def _ask_several(topology: Topology, site, model: str) -> list[dict]:
    return [_ask(topology, site, model, f"Say the number {number}.") for number in range(QUESTIONS)]


def test_questions_are_spread_over_the_machines(topology, site, shared: SharedModel) -> None:
    """Every machine serving the model answers some of its questions."""
    answers = _ask_several(topology, site, shared.name)
    failed = [a for a in answers if a["end"] != "done"]
    assert not failed, f"{len(failed)} of {QUESTIONS} questions failed: {failed[:3]}"
    by_machine = Counter(a["llm"] for a in answers)
    addresses = {m.private_address for m in shared.machines}
    assert set(by_machine) == addresses, f"answered by {dict(by_machine)}, serving: {addresses}"


# Ollama down behind a gateway that still answers (its 503), and the whole gateway down
# (connections refused), as when the machine itself is gone.
@pytest.mark.parametrize("unit", ["ollama", "apache2"])
def test_one_machine_down_fails_no_question(topology, site, shared: SharedModel, unit: str) -> None:
    """With one machine's service stopped, every question is answered by another machine."""
    victim = shared.machines[0]
    try:
        topology.run(victim, f"systemctl stop {unit}")
        answers = _ask_several(topology, site, shared.name)
    finally:
        topology.run(victim, f"systemctl start {unit}")
    failed = [a for a in answers if a["end"] != "done"]
    assert not failed, f"{len(failed)} of {QUESTIONS} questions failed with {unit} down: {failed}"
    assert victim.private_address not in {a["llm"] for a in answers}

    # Back in the rotation on its own, once the web machines try it again.
    wait_for(
        f"{victim.name} answering again after {unit} restarted",
        lambda: {a["llm"] for a in _ask_several(topology, site, shared.name)},
        lambda machines: victim.private_address in machines,
        RECOVERY_SECONDS,
    )
