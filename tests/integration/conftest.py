"""The simulator and ``python -m webui serve`` as real processes on free loopback ports."""

from collections.abc import Iterator

import pytest

# The simulator's speed in these tests; assertions about timing are derived from it.
TOKENS_PER_SECOND = 20


@pytest.fixture(scope="session")
def tokens_per_second() -> int:
    return TOKENS_PER_SECOND


@pytest.fixture(scope="module")
def simulator(launch) -> Iterator:
    served = launch(
        "sim",
        ["ollama_sim"],
        {
            "OLLAMA_SIM_TOKENS_PER_SECOND": str(TOKENS_PER_SECOND),
            "OLLAMA_SIM_TIME_TO_FIRST_TOKEN": "0.05",
            "OLLAMA_SIM_LOAD_DELAY": "0",
        },
    )
    yield served
    served.stop()


@pytest.fixture(scope="module")
def webapp(launch, simulator) -> Iterator:
    served = launch(
        "webui",
        ["webui", "serve"],
        {
            "WEBUI_OLLAMA_URL": simulator.url,
            "WEBUI_REQUIRE_LOGIN": "false",
            "WEBUI_NODE_NAME": "web-it",
        },
    )
    yield served
    served.stop()
