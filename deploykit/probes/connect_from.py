"""Opens a TCP connection from one of the machine's addresses; prints how it ended.

    python3 connect_from.py SOURCE ADDRESS PORT

"connected", "timeout" (dropped by a firewall) or the error's name (refused, unreachable).
"""

from __future__ import annotations

import socket
import sys


def main(argv: list[str] | None = None) -> None:
    source, address, port = sys.argv[1:] if argv is None else argv
    with socket.socket() as sock:
        sock.settimeout(3)
        sock.bind((source, 0))
        try:
            sock.connect((address, int(port)))
            print("connected")
        except TimeoutError:
            print("timeout")
        except OSError as error:
            print(type(error).__name__)


if __name__ == "__main__":
    main()
