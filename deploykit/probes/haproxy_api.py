"""HAProxy's runtime API through its admin socket, on the load balancer.

    python3 haproxy_api.py SOCKET send COMMAND         prints HAProxy's answer
    python3 haproxy_api.py SOCKET watch PORT ADDRESS LIMIT

"watch" prints "ready", then the wall-clock time at which the server at ADDRESS:PORT is first
seen stopped, polling every 50 ms for at most LIMIT seconds ("timeout" then, exit 1). The
parsing of "show servers state" lives here because the watch needs it on the machine;
deploykit.haproxy imports it for everything else.
"""

from __future__ import annotations

import socket
import sys
import time

STOPPED = 0  # srv_op_state: 0 stopped, 1 starting, 2 running, 3 stopping


def send(path: str, command: str) -> str:
    """One command; HAProxy answers and closes the connection."""
    with socket.socket(socket.AF_UNIX) as connection:
        connection.connect(path)
        connection.sendall(command.encode() + b"\n")
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
    return data.decode()


def server_states(answer: str, port: str) -> dict[str, int]:
    """{server address: operational state} from "show servers state", for servers on PORT."""
    header: list[str] | None = None
    states = {}
    for line in answer.splitlines():
        if line.startswith("# be_id"):
            header = line[2:].split()
        elif header and line[:1].isdigit():
            row = dict(zip(header, line.split(), strict=False))
            if row["srv_port"] == port:
                states[row["srv_addr"]] = int(row["srv_op_state"])
    return states


def watch(path: str, port: str, address: str, limit: float) -> int:
    print("ready", flush=True)
    deadline = time.time() + limit
    while time.time() < deadline:
        if server_states(send(path, "show servers state"), port).get(address) == STOPPED:
            print(time.time(), flush=True)
            return 0
        time.sleep(0.05)
    print("timeout", flush=True)
    return 1


def main(argv: list[str] | None = None) -> int:
    path, mode, *rest = sys.argv[1:] if argv is None else argv
    if mode == "send":
        print(send(path, " ".join(rest)), end="")
        return 0
    port, address, limit = rest
    return watch(path, port, address, float(limit))


if __name__ == "__main__":
    sys.exit(main())
