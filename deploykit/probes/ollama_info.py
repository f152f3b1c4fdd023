"""Asks Ollama on the machine's loopback what it is: {"version": {...}, "models": [names]}.

python3 ollama_info.py PORT
"""

from __future__ import annotations

import json
import sys
import urllib.request


def main(argv: list[str] | None = None) -> None:
    (port,) = sys.argv[1:] if argv is None else argv
    base = f"http://127.0.0.1:{port}"

    def get(path: str) -> dict:
        with urllib.request.urlopen(base + path, timeout=10) as response:  # noqa: S310 (http only)
            return json.load(response)

    names = [m["name"] for m in get("/api/tags").get("models", [])]
    print(json.dumps({"version": get("/api/version"), "models": names}))


if __name__ == "__main__":
    main()
