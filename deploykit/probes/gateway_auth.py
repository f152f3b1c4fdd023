"""Asks the LLM gateway for /api/tags with right, wrong, empty and malformed credentials.

    python3 gateway_auth.py ADDRESS PORT CA_FILE   (the right token on stdin)

Prints {case: [status, content type, body]} as JSON. TLS is verified against CA_FILE, the
gateway CA the app verifies with. The token comes on stdin, never on the command line.
"""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import sys


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def cases(token: str) -> dict[str, str | None]:
    """Authorization header values by case name (None: no header)."""
    return {
        "right-token": basic("webui", token),
        "right-bearer": "Bearer " + token,
        "none": None,
        "wrong-password": basic("webui", token[::-1]),
        "empty-password": basic("webui", ""),
        "wrong-user": basic("nobody", token),
        "empty-basic": "Basic ",
        "not-base64": "Basic !!!not-base64!!!",
        "no-colon": "Basic " + base64.b64encode(token.encode()).decode(),
        "bearer-wrong": "Bearer " + token[::-1],
        "bearer-empty": "Bearer ",
        "bearer-two-words": f"Bearer {token} {token}",
        "bearer-lower-case-wrong": "bearer " + token[::-1],
        "long": basic("webui", "x" * 5000),  # within Apache's 8 KiB header limit (beyond: 400)
        "bearer-long": "Bearer " + "x" * 5000,
    }


def main(argv: list[str] | None = None) -> None:
    address, port, ca_file = sys.argv[1:] if argv is None else argv
    context = ssl.create_default_context(cafile=ca_file)
    out = {}
    for name, value in cases(sys.stdin.read().strip()).items():
        connection = http.client.HTTPSConnection(address, int(port), context=context, timeout=15)
        headers = {"Authorization": value} if value is not None else {}
        connection.request("GET", "/api/tags", headers=headers)
        response = connection.getresponse()
        out[name] = [
            response.status,
            response.getheader("Content-Type", ""),
            response.read().decode(),
        ]
        connection.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
