"""Servers started as subprocesses on loopback, and stopping the processes a test started.

A server is told ``--port 0``: the kernel picks a free port and the server logs its URL, which
is read back from its log. Nothing reserves a port first and hands it over, so no other process
can take it in between. Each process is ended by its own handle, never by name.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploykit.wait import until

ADDRESS = re.compile(rb"http://127\.0\.0\.1:(\d+)")
STARTUP_SECONDS = 20


@dataclass
class Served:
    """A server process we started, its base URL and its log file."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def stop(self) -> None:
        """End this process (and only this one), if it still runs."""
        if self.process.poll() is None:
            stop_process(self.process)


def launch(
    argv: Sequence[str],
    env: Mapping[str, str],
    log: Path,
    cwd: Path | None = None,
    seconds: float = STARTUP_SECONDS,
) -> Served:
    """Run ``argv --host 127.0.0.1 --port 0`` with ``env`` over ours; wait until it logs its URL."""
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 (the caller's argv, no shell)
            [*argv, "--host", "127.0.0.1", "--port", "0"],
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
            cwd=cwd,
        )

    def port() -> bytes | None:
        found = ADDRESS.search(log.read_bytes())
        if found is None and process.poll() is not None:
            raise RuntimeError("exited")
        return found.group(1) if found else None

    try:
        found = until(port, seconds, "no URL in its log", interval=0.05)
    except (RuntimeError, TimeoutError):
        stop_process(process)
        said = log.read_text(errors="replace")
        raise RuntimeError(f"{' '.join(argv)} did not start:\n{said}") from None
    return Served(process, f"http://127.0.0.1:{found.decode()}", log)


def stop_process(process: subprocess.Popen[Any], grace_seconds: float = 10) -> None:
    """End a process we started: SIGTERM, then SIGKILL if it is still there after the grace."""
    process.terminate()
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
