"""Prints repr() of one field of the app's settings as the app reads them.

    python app_setting.py NAME

Runs in the app's container on a web machine (``docker exec``), with the app's settings file
and environment, so the value is the one the app itself uses.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    (name,) = sys.argv[1:] if argv is None else argv
    from webui.settings import load_settings  # the container's app, not this machine's

    print(repr(getattr(load_settings(), name)))


if __name__ == "__main__":
    main()
