"""One HTTPS request verified against CA_FILE; prints the status, the response headers as
JSON (one header's lines joined), then each body line as JSON [monotonic second it arrived, text].

    python3 https_lines.py CA_FILE HOST PORT METHOD PATH AUTHORIZATION BODY

Compression is asked for, as the web app's httpx client does: a proxy that buffered to compress
would show as lines arriving together.
"""

from __future__ import annotations

import http.client
import json
import ssl
import sys
import time


def main(argv: list[str] | None = None) -> None:
    ca_file, host, port, method, path, auth, body = sys.argv[1:] if argv is None else argv
    context = ssl.create_default_context(cafile=ca_file)
    connection = http.client.HTTPSConnection(host, int(port), context=context, timeout=30)
    headers = {"Accept-Encoding": "gzip, deflate"}
    if auth:
        headers["Authorization"] = auth
    if body:
        headers["Content-Type"] = "application/json"
    connection.request(method, path, body=body or None, headers=headers)
    response = connection.getresponse()
    print(response.status)
    joined: dict[str, str] = {}
    for name, value in response.getheaders():
        # A header sent on several lines is one comma-separated list (RFC 9110, 5.3).
        joined[name] = f"{joined[name]}, {value}" if name in joined else value
    print(json.dumps(joined))
    while line := response.readline():
        print(json.dumps([time.monotonic(), line.decode(errors="replace")]))


if __name__ == "__main__":
    main()
