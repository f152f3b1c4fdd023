"""Sends bytes exactly as given (malformed requests included); prints the status, the headers
as JSON and the body.

    python3 raw_request.py CA_FILE HOST PORT tls|plain BASE64_REQUEST

Over TLS verified against CA_FILE unless "plain". The request must make the server close the
connection (Connection: close, or an error), which ends the answer.
"""

from __future__ import annotations

import base64
import json
import socket
import ssl
import sys


def parse(received: bytes) -> tuple[str, dict[str, str], str]:
    """(status, headers, body) of a raw HTTP/1.1 answer."""
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *fields = head.decode("latin-1").split("\r\n")
    headers = dict(field.split(": ", 1) for field in fields)
    return status_line.split(" ")[1], headers, body.decode("latin-1")


def main(argv: list[str] | None = None) -> None:
    ca_file, host, port, mode, data = sys.argv[1:] if argv is None else argv
    sock = socket.create_connection((host, int(port)), timeout=30)
    if mode == "tls":
        sock = ssl.create_default_context(cafile=ca_file).wrap_socket(sock, server_hostname=host)
    with sock:
        sock.sendall(base64.b64decode(data))
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    status, headers, body = parse(received)
    print(status)
    print(json.dumps(headers))
    print(body, end="")


if __name__ == "__main__":
    main()
