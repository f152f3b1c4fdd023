"""GET a URL, or POST a JSON body to it; prints the status, then the body.

    python3 http_json.py URL BODY TIMEOUT

For APIs on a machine's loopback (Ollama, the simulator's counters); an empty BODY means GET.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request


def main(argv: list[str] | None = None) -> None:
    url, body, timeout = sys.argv[1:] if argv is None else argv
    request = urllib.request.Request(  # noqa: S310 (the caller's URL, on its own machine)
        url, data=body.encode() or None, headers={"Content-Type": "application/json"}
    )
    try:
        response = urllib.request.urlopen(request, timeout=float(timeout))  # noqa: S310
    except urllib.error.HTTPError as error:
        response = error
    with response:
        print(response.status)
        print(response.read().decode())


if __name__ == "__main__":
    main()
