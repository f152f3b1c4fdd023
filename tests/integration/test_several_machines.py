"""One app in front of three simulators as real processes: models by machine, and no failed
question when a machine goes away.

The session's simulator and a second one with other models stay up; a third serves the same
models as the first and is stopped mid-module, as a machine that dies would be.
"""

import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

OTHER_MODEL = "tinyllama:1.1b"


@pytest.fixture(scope="module")
def other_simulator(launch) -> Iterator:
    served = launch("sim-other", ["ollama_sim"], {"OLLAMA_SIM_MODELS": OTHER_MODEL})
    yield served
    served.stop()


@pytest.fixture(scope="module")
def doomed_simulator(launch) -> Iterator:
    served = launch("sim-doomed", ["ollama_sim"], {"OLLAMA_SIM_LOAD_DELAY": "0"})
    yield served
    served.stop()


@pytest.fixture(scope="module")
def cluster_webapp(launch, simulator, other_simulator, doomed_simulator) -> Iterator:
    served = launch(
        "webui-cluster",
        ["webui", "serve"],
        {
            "WEBUI_OLLAMA_URL": f"{doomed_simulator.url} {simulator.url} {other_simulator.url}",
            "WEBUI_REQUIRE_LOGIN": "false",
            # Long enough that the doomed machine is still listed when it is gone.
            "WEBUI_MODELS_CACHE_SECONDS": "600",
        },
    )
    yield served
    served.stop()


def machine(server) -> str:
    """How the app names a machine: host and port, as every simulator is on 127.0.0.1."""
    return urlsplit(server.url).netloc


def ask(webapp, model: str, stream: bool = True) -> httpx.Response:
    return httpx.post(
        f"{webapp.url}/api/ask",
        json={"question": "[[sim:tokens=3]] hi", "model": model, "stream": stream},
        headers={"Origin": webapp.url},
        timeout=30,
    )


def answered_by(response: httpx.Response) -> str:
    """The machine the app says answered a complete question (from the meta event if streamed)."""
    assert response.status_code == 200, response.text
    if response.headers["content-type"] != "application/x-ndjson":
        return response.json()["llm"]
    events = [json.loads(line) for line in response.text.splitlines()]
    assert events[-1]["type"] == "done", events[-1]
    return events[0]["llm"]


def test_the_model_list_is_every_machines(cluster_webapp) -> None:
    """Models of every machine, each once, in the machines' order."""
    names = [m["name"] for m in httpx.get(f"{cluster_webapp.url}/api/models").json()["models"]]
    assert names == ["llama3.2:latest", "qwen2.5:0.5b", OTHER_MODEL]


def test_a_model_only_one_machine_serves_is_answered_there(cluster_webapp, other_simulator):
    """The question reaches the one machine with its model, which the meta event names."""
    assert answered_by(ask(cluster_webapp, OTHER_MODEL)) == machine(other_simulator)


def test_questions_spread_over_the_machines_that_serve_the_model(
    cluster_webapp, simulator, doomed_simulator
):
    """Equal machines take turns."""
    answered = {answered_by(ask(cluster_webapp, "llama3.2", stream=False)) for _ in range(4)}
    assert answered == {machine(simulator), machine(doomed_simulator)}


def test_no_question_fails_when_a_machine_goes_away(cluster_webapp, simulator, doomed_simulator):
    """A stopped machine still listed is tried, refuses, and the other machine answers."""
    doomed_simulator.stop()
    answered = [answered_by(ask(cluster_webapp, "llama3.2", stream=n < 2)) for n in range(4)]
    assert answered == [machine(simulator)] * 4
    ready = httpx.get(f"{cluster_webapp.url}/readyz")
    states = {state["name"]: state["status"] for state in ready.json()["backends"]}
    assert ready.status_code == 200
    assert states[machine(doomed_simulator)] == "unready"
