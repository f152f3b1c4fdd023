"""The real model's rows: time to first token and tokens per second, direct and through the chain.

The simulator makes the chain's cost visible to the millisecond; these rows say what that cost
is worth next to a real model's own time. The model is the site's default unless the simulator
serves it, else the first model no simulator serves (the e2e tests pick it the same way).

Both paths send the same question with no options, as /api/ask does (it cannot ask Ollama for an
answer length), so the answers' lengths differ from stream to stream: what is compared is the
time to first token and the speed of each stream once it has started, not the measured totals.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench import paths, stats
from bench.paths import Load
from deploykit.topology import Machine, Topology, pick_model

DEFAULT_QUESTION = "Why is the sky blue? Answer in two sentences."
# Only warms the chain's connections to each machine's gateway, so it asks for a short answer.
WARM_UP_QUESTION = "Say hello in one word."


def serving(topology: Topology, model: str) -> list[Machine]:
    """The LLM machines whose (real) Ollama lists the model, asked on each machine."""
    simulator = topology.simulator
    return [
        machine
        for machine in topology.llm
        if (simulator is None or machine != simulator.machine)
        and model in topology.ollama(machine)["models"]
    ]


def spread(level: int, machines: list[Machine], first: int) -> list[tuple[Machine, int]]:
    """How many of ``level`` streams each machine takes, in turn from ``machines[first]``.

    As the web app spreads questions for one model over the machines serving it, so each
    machine's Ollama runs its share, as it does behind the chain.
    """
    shares = Counter(machines[(first + i) % len(machines)] for i in range(level))
    return list(shares.items())


def run_direct(
    topology: Topology, machines: list[Machine], body: dict[str, Any], load: Load
) -> list[dict[str, Any]]:
    """The load's streams over the machines' loopbacks.

    Each machine runs its share with the stream client on its own loopback; the machines start
    together (one SSH session each, in parallel), so their streams overlap as the chain's do; the
    peak column shows how far they did.
    """
    results: list[dict[str, Any]] = []
    for round_number in range(load.rounds):
        shares = spread(load.level, machines, round_number * load.level)
        with ThreadPoolExecutor(len(shares)) as pool:
            runs = [
                pool.submit(paths.direct, topology, machine, body, Load(count, 1, load.timeout))
                for machine, count in shares
            ]
            for run in runs:
                results += run.result()
    return results


def measure(
    topology: Topology,
    cookie: str,
    listing: dict[str, Any],
    levels: list[int] | None,
    samples: int,
    question: str,
    timeout: float,
) -> dict[str, Any]:
    """Both paths at each level; ``{"skipped": why}`` when the deployment has no real model."""
    if samples < 1:
        return {"skipped": "--real-samples is 0"}
    simulated = topology.simulator.models if topology.simulator else ()
    model = pick_model(listing, simulated)
    if model is None:
        names = [m["name"] for m in listing.get("models", [])]
        return {"skipped": f"every model the site offers is simulated: {', '.join(names)}"}
    machines = serving(topology, model)
    if not machines:
        return {"skipped": f"no LLM machine's Ollama lists {model}, which the site offers"}
    levels = levels or sorted({1, len(machines)})
    body = {"model": model, "prompt": question, "stream": True}
    ask = {"question": question, "model": model, "stream": True}
    # The app names a machine by its gateway's host; the rows use the inventory's names.
    names = {m.private_address: m.name for m in topology.llm}
    print(
        f"real model {model} on {', '.join(m.name for m in machines)}: levels "
        f"{', '.join(map(str, levels))}, question {question!r}",
        flush=True,
    )
    # Warm-up: the model loaded on every machine with the question's prompt cached (one token
    # each), then the chain's connections to the machines' gateways, as many streams at once as
    # there are machines so that the app sends one to each.
    for machine in machines:
        warm = {**body, "options": {"num_predict": 1}}
        paths.direct(topology, machine, warm, Load(1, 1, timeout))
    warm_ask = {**ask, "question": WARM_UP_QUESTION}
    paths.chain(topology, cookie, warm_ask, Load(len(machines), 1, timeout))
    summaries = []
    for level in levels:
        # About `samples` streams per level: one after another at level 1, in rounds above it.
        rounds = samples if level == 1 else math.ceil(samples / level)
        for path in ("direct", "chain"):
            load_before = os.getloadavg()[0]
            if path == "direct":
                results = run_direct(topology, machines, body, Load(level, rounds, timeout))
            else:
                results = paths.chain(topology, cookie, ask, Load(level, rounds, timeout))
                for result in results:
                    result["llm"] = names.get(result["llm"], result["llm"])
            summary = stats.real_summary(path, level, results)
            summary["load_average_before"] = load_before
            summaries.append(summary)
            print(
                f"  real {path:<6} level {level:>3}: {summary['ok']}/{summary['streams']} ok "
                f"(load average {load_before:.1f})",
                flush=True,
            )
    return {
        "model": model,
        "machines": [m.name for m in machines],
        "question": question,
        "levels": summaries,
        "overhead": stats.real_overhead(summaries),
    }
