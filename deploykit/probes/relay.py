"""Joins stdin and stdout to a TCP connection to PORT on the machine's loopback.

    python3 relay.py PORT

Run by ssh (or docker exec) once per connection through a tunnel that a test opens.
"""

from __future__ import annotations

import os
import socket
import sys
import threading


def main(argv: list[str] | None = None, stdin: int = 0, stdout: int = 1) -> None:
    (port,) = sys.argv[1:] if argv is None else argv
    connection = socket.create_connection(("127.0.0.1", int(port)))

    def upstream() -> None:
        while data := os.read(stdin, 65536):
            connection.sendall(data)
        connection.shutdown(socket.SHUT_WR)

    threading.Thread(target=upstream, daemon=True).start()
    while data := connection.recv(65536):
        os.write(stdout, data)
    connection.close()


if __name__ == "__main__":
    main()
