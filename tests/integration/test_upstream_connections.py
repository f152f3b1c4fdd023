"""The app keeps its connection to Ollama open between questions.

A TCP relay that counts the connections it accepts sits between the app and the simulator. On
the gateway, every new connection is a TLS handshake and a credential check before the first
token, so a streamed answer must leave its connection reusable for the next question.
"""

import contextlib
import socket
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

QUESTIONS = 4


class CountingRelay:
    """Forwards loopback TCP connections to ``target`` and counts them."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.accepted = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self._listener.accept()
                self.accepted += 1
                upstream = socket.create_connection(self.target)
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self._listener.close()


@pytest.fixture(scope="module")
def relay(simulator) -> Iterator[CountingRelay]:
    address = urlsplit(simulator.url)
    relay = CountingRelay((address.hostname, address.port))
    yield relay
    relay.close()


@pytest.fixture(scope="module")
def relayed_webapp(launch, relay) -> Iterator:
    served = launch(
        "webui-relayed",
        ["webui", "serve"],
        {
            "WEBUI_OLLAMA_URL": f"http://127.0.0.1:{relay.port}",
            "WEBUI_REQUIRE_LOGIN": "false",
        },
    )
    yield served
    served.stop()


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "complete"])
def test_questions_one_after_another_share_one_connection(relayed_webapp, relay, stream) -> None:
    """Answers read to their end leave the connection to Ollama open for the next question."""
    before = relay.accepted
    for n in range(QUESTIONS):
        # The model is named, as the page does: without one, the app asks Ollama for its list.
        response = httpx.post(
            f"{relayed_webapp.url}/api/ask",
            json={"question": f"[[sim:tokens=3]] {n}", "model": "llama3.2", "stream": stream},
            headers={"Origin": relayed_webapp.url},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        assert '"done"' in response.text or "answer" in response.json()
    # At most one new connection: the first question may find none open yet.
    assert relay.accepted - before <= 1, f"{relay.accepted - before} connections for {QUESTIONS}"
