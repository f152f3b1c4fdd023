"""Prints how many CA certificates Python's ssl loads from a bundle file.

python3 ca_count.py BUNDLE
"""

from __future__ import annotations

import ssl
import sys


def main(argv: list[str] | None = None) -> None:
    (bundle,) = sys.argv[1:] if argv is None else argv
    print(len(ssl.create_default_context(cafile=bundle).get_ca_certs()))


if __name__ == "__main__":
    main()
