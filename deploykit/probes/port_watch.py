"""Prints "ready", then the wall-clock time at which 127.0.0.1:PORT is first seen in STATE.

    python3 port_watch.py PORT closed|open LIMIT

"closed": the first refused connection (a server going down); "open": the first accepted one
(a server back up). Tries every 20 ms for at most LIMIT seconds, then prints "timeout" and
exits 1.
"""

from __future__ import annotations

import socket
import sys
import time


def is_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    port, state, limit = sys.argv[1:] if argv is None else argv
    wanted = {"open": True, "closed": False}[state]
    print("ready", flush=True)
    deadline = time.time() + float(limit)
    while time.time() < deadline:
        if is_open(int(port)) == wanted:
            print(time.time(), flush=True)
            return 0
        time.sleep(0.02)
    print("timeout", flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
