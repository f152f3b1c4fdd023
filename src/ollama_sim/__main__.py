"""``python -m ollama_sim``: validate the settings, then serve until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence

from ollama_sim.config import ConfigError, load_config
from ollama_sim.server import serve


async def _run(config_argv: Sequence[str]) -> None:
    config = load_config(config_argv, os.environ)
    logging.basicConfig(
        stream=sys.stderr,
        level=config.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await serve(config, stop)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m ollama_sim`` and the ``ollama-sim`` script."""
    try:
        asyncio.run(_run(sys.argv[1:] if argv is None else argv))
    except ConfigError as exc:
        print(f"ollama-sim: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
