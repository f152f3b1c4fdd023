"""Streams a generation, hangs up, and samples the CPU time of Ollama's runners meanwhile.

    python3 ollama_cancel.py HOST PORT SERVER_PID HANG_UP REQUEST_JSON

HANG_UP is "close" (close the connection, as a browser tab does) or "stall" (stop reading but keep
the connection open, only to see the caller's check fail when generation goes on). The runners
are the child processes of SERVER_PID (the "ollama runner" the server starts per model),
sampled in /proc/<pid>/stat. Prints one JSON object; CPU times are in seconds.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import time

STREAM_SECONDS = 1.0  # how long chunks are read before hanging up
GRACE_SECONDS = 1.0  # how long the runner may take to stop
WATCH_SECONDS = 1.0  # the window in which it must not compute any more


def children(pid: str) -> list[str]:
    """The processes the server started (its runners)."""
    found: list[str] = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            found.extend(f.read().split())
    return found


def cpu_seconds(pids: list[str]) -> float:
    """User plus system CPU time of the processes, all their threads included."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            # Fields after the parenthesised command: state is the first, utime the 12th.
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> None:
    host, port, server_pid, hang_up, request = sys.argv[1:] if argv is None else argv
    started = time.monotonic()
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    conn.request("POST", "/api/generate", request, {"Content-Type": "application/json"})
    response = conn.getresponse()
    first = json.loads(response.readline())
    first_token_seconds = time.monotonic() - started
    runners = children(server_pid)

    chunks, done_seen = 1, bool(first.get("done"))
    cpu_start, stream_start = cpu_seconds(runners), time.monotonic()
    while time.monotonic() - stream_start < STREAM_SECONDS and not done_seen:
        done_seen = bool(json.loads(response.readline()).get("done"))
        chunks += 1
    cpu_streamed, streamed = cpu_seconds(runners), time.monotonic() - stream_start

    if hang_up == "close":
        response.close()
        conn.close()
    time.sleep(GRACE_SECONDS)
    cpu_watch_start, watch_start = cpu_seconds(runners), time.monotonic()
    time.sleep(WATCH_SECONDS)
    cpu_watch_end, watched = cpu_seconds(runners), time.monotonic() - watch_start

    print(
        json.dumps(
            {
                "runners": runners,
                "first_token_seconds": first_token_seconds,
                "chunks": chunks,
                "done_seen": done_seen,
                "streamed_seconds": streamed,
                "cpu_while_streaming": cpu_streamed - cpu_start,
                "watched_seconds": watched,
                "cpu_after_hang_up": cpu_watch_end - cpu_watch_start,
                "elapsed_seconds": time.monotonic() - started,
            }
        )
    )


if __name__ == "__main__":
    main()
