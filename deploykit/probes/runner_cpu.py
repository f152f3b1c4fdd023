"""CPU ticks (1/100 s) that Ollama's runner processes use during SECONDS.

    python3 runner_cpu.py SECONDS

A runner (``ollama runner ...``, one per loaded model) that generates keeps cores busy; an idle
one uses none.
"""

from __future__ import annotations

import os
import sys
import time


def is_runner(argv: list[bytes]) -> bool:
    return len(argv) > 1 and argv[0].endswith(b"ollama") and argv[1] == b"runner"


def ticks(proc: str = "/proc") -> int:
    """User plus system ticks of every runner process now."""
    total = 0
    for pid in filter(str.isdigit, os.listdir(proc)):
        try:
            with open(f"{proc}/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            if is_runner(argv):
                with open(f"{proc}/{pid}/stat") as f:
                    # The command name may hold spaces and parentheses: fields follow the last ")".
                    fields = f.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
        except OSError:
            pass  # the process ended between listing and reading
    return total


def main(argv: list[str] | None = None) -> None:
    (seconds,) = sys.argv[1:] if argv is None else argv
    before = ticks()
    time.sleep(float(seconds))
    print(ticks() - before)


if __name__ == "__main__":
    main()
