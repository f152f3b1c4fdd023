"""The simulator and ``python -m webui serve`` as real processes on free loopback ports."""

from collections.abc import Iterator

import pytest


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
