"""One HTTP(S) request with the standard library (the machines have no curl), answered as JSON.

    python3 https_fetch.py METHOD URL BODY HEADERS_JSON CA_FILE

Prints {"status", "headers", "body"}; redirects are reported, not followed. TLS is verified
against CA_FILE (the machine's private CA), or the system's store when it is "". A connection
that fails prints status 0 with the error, so a caller can assert that a port refuses.
"""

from __future__ import annotations

import json
import ssl
import sys
import urllib.error
import urllib.request


class KeepRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object) -> None:
        return None


def fetch(method: str, url: str, body: str, headers: dict[str, str], ca_file: str) -> dict:
    context = ssl.create_default_context(cafile=ca_file or None)
    opener = urllib.request.build_opener(
        KeepRedirects, urllib.request.HTTPSHandler(context=context)
    )
    request = urllib.request.Request(  # noqa: S310 (the caller's URL, on its own machine)
        url, data=body.encode() or None, method=method, headers=headers
    )
    try:
        response = opener.open(request, timeout=10)
    except urllib.error.HTTPError as error:
        response = error
    except OSError as error:
        return {"status": 0, "headers": {}, "body": "", "error": str(error)}
    with response:
        text = response.read().decode("utf-8", "replace")
        return {"status": response.status, "headers": dict(response.headers.items()), "body": text}


def main(argv: list[str] | None = None) -> None:
    method, url, body, headers, ca_file = sys.argv[1:] if argv is None else argv
    print(json.dumps(fetch(method, url, body, json.loads(headers), ca_file)))


if __name__ == "__main__":
    main()
