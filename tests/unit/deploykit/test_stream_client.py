"""The stream client, run as the benchmark runs it on a machine, against the project's simulator."""

import io
import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploykit.probes import stream_client
from deploykit.process import Served, launch


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    log = tmp_path_factory.mktemp("sim") / "sim.log"
    env = {"OLLAMA_SIM_TOKENS_PER_SECOND": "200", "OLLAMA_SIM_LOAD_DELAY": "0"}
    served = launch([sys.executable, "-m", "ollama_sim"], env, log)
    yield served
    served.stop()


def test_main_streams_and_counts_every_token(sim: Served, capsys, monkeypatch) -> None:
    """Two concurrent streams, twice: each ends with its final line and all its tokens."""
    port = sim.url.rsplit(":", 1)[1]
    model = json.loads(_get(f"{sim.url}/api/tags"))["models"][0]["name"]
    body = {"model": model, "prompt": "[[sim:tokens=5]] hi", "stream": True}
    monkeypatch.setattr(sys, "stdin", io.StringIO("X-Test: 1\n"))
    stream_client.main(
        [
            *("--host", "127.0.0.1", "--port", port, "--body", json.dumps(body)),
            *("--streams", "2", "--sequential", "2", "--timeout", "30", "--stdin-headers"),
        ]
    )
    results = json.loads(capsys.readouterr().out)
    assert len(results) == 4
    assert all(r["ok"] and r["status"] == 200 and r["tokens"] == 5 for r in results), results


def test_split_head_waits_for_the_whole_head() -> None:
    assert stream_client.split_head(b"HTTP/1.1 200 OK\r\nX-A: 1\r\n") is None
    status, headers, rest = stream_client.split_head(b"HTTP/1.1 503 No\r\nX-A: 1\r\n\r\nbody")
    assert (status, headers, rest) == (503, {"x-a": "1"}, b"body")


def test_split_head_joins_a_header_sent_on_several_lines() -> None:
    head = (
        b"HTTP/1.1 200 OK\r\nServer-Timing: app;dur=1.5, gateway;dur=2\r\n"
        b"server-timing: lb-queue;dur=0\r\n\r\n"
    )
    _, headers, _ = stream_client.split_head(head)
    assert headers["server-timing"] == "app;dur=1.5, gateway;dur=2, lb-queue;dur=0"


def test_server_timing_reads_each_entrys_duration() -> None:
    header = 'app;dur=1.5, gateway-auth;desc="x";dur=0001.234, bare, bad;dur=x, lb;dur="2"'
    assert stream_client.server_timing(header) == {
        "app": 1.5,
        "gateway-auth": 1.234,
        "lb": 2.0,
    }


@pytest.mark.parametrize(
    ("line", "kind", "text"),
    [
        ({"response": "Hi", "done": False}, "token", "Hi"),
        ({"message": {"content": "Yo"}, "done": False}, "token", "Yo"),
        ({"type": "token", "text": "web"}, "token", "web"),
        ({"done": True, "eval_count": 3}, "done", ""),
        ({"error": "boom"}, "error", ""),
        ({"type": "meta"}, "other", ""),
    ],
)
def test_lines_of_ollama_and_of_the_app_are_classified(line: dict, kind: str, text: str) -> None:
    assert stream_client.classify(line) == kind
    assert stream_client.text_of(line) == text


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (loopback, http)
        return response.read().decode()


def test_probe_runs_as_a_file(tmp_path: Path) -> None:
    """The module is self-contained: its text runs with python3 -c (as over SSH), printing help."""
    source = Path(stream_client.__file__).read_text()
    done = subprocess.run(
        [sys.executable, "-c", source, "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and "--streams" in done.stdout
