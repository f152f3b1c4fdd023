"""A stand-in web machine for the HAProxy scenario: answers /healthz, can hold a request open.

Every answer says which port served it and echoes the request headers, so tests can see where
HAProxy sent a request and what it added on the way. Given a certificate and a key, it speaks
TLS only, as the real web machines do.
"""

import json
import ssl
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class Handler(BaseHTTPRequestHandler):
    """Answers every GET with JSON naming this server; /slow?seconds=N waits first."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/slow":
            # Bounded: a stuck test must not hold the server forever.
            time.sleep(min(float(parse_qs(url.query).get("seconds", ["1"])[0]), 30.0))
        # Repeated headers are joined as a proxy would fold them, so a duplicate is visible.
        headers = {name: ", ".join(self.headers.get_all(name)) for name in set(self.headers.keys())}
        body = json.dumps({"port": self.server.server_address[1], "headers": headers}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main() -> None:
    """Serve on 127.0.0.1 at the port given first; over TLS if certificate and key paths follow."""
    port, *cert_and_key = sys.argv[1:]
    server = ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
    if cert_and_key:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*cert_and_key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
