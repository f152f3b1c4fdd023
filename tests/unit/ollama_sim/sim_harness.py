"""Run the simulator exactly as users do, ``python -m ollama_sim``, in a subprocess.

The server binds port 0 on 127.0.0.1 and logs the port it got, so parallel runs never race for a
port. A module with a unique name (not ``conftest``) so that test files can import its helpers.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

START_TIMEOUT_S = 15.0
_LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")
# Fast defaults for tests that are not about timing; a test overrides what it measures.
FAST = ("--load-delay", "0", "--ttft", "0", "--tps", "1000")


@dataclass
class RunningSim:
    """A simulator process, its base URL and its stderr log."""

    url: str
    log_path: Path
    process: subprocess.Popen[bytes]

    def log(self) -> str:
        return self.log_path.read_text()

    def stats(self) -> dict[str, Any]:
        return httpx.get(f"{self.url}/sim/stats", timeout=5).json()

    def wait_for_stats(
        self, predicate: Callable[[dict[str, Any]], bool], timeout_s: float
    ) -> tuple[dict[str, Any], float]:
        """Poll /sim/stats until ``predicate`` holds; return the stats and the seconds it took."""
        started = time.monotonic()
        while True:
            stats = self.stats()
            waited = time.monotonic() - started
            if predicate(stats) or waited > timeout_s:
                return stats, waited
            time.sleep(0.02)


def start(tmp_path: Path, args: tuple[str, ...], env: dict[str, str]) -> RunningSim:
    log_path = tmp_path / f"sim-{time.monotonic_ns()}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "ollama_sim", "--host", "127.0.0.1", "--port", "0", *args],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        match = _LISTENING.search(log_path.read_text())
        if match:
            return RunningSim(match.group(1), log_path, process)
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    process.wait()
    pytest.fail(f"simulator did not start:\n{log_path.read_text()}")


def stop(sim: RunningSim) -> None:
    sim.process.terminate()
    try:
        sim.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        sim.process.kill()
        sim.process.wait()


def ndjson(text: str) -> list[dict[str, Any]]:
    """Parse an NDJSON body into objects, one per non-empty line."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def raw_post(url: str, path: str, body: dict[str, Any], headers: dict[str, str]) -> socket.socket:
    """Send a POST on a plain socket, so a test can cut the connection at an exact moment."""
    host, port = url.removeprefix("http://").split(":")
    payload = json.dumps(body).encode()
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(payload)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    conn = socket.create_connection((host, int(port)), timeout=10)
    conn.sendall("\r\n".join(lines).encode() + b"\r\n\r\n" + payload)
    return conn


def read_until(conn: socket.socket, marker: bytes, count: int) -> bytes:
    """Read until ``marker`` has been seen ``count`` times (bounded by the socket timeout)."""
    data = b""
    while data.count(marker) < count:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data
