"""python -m faults: break a deployment on purpose, one operator's mistake at a time, and show
which test catches each (tox -e faults). See faults/README.md."""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from deploykit import inventory
from deploykit.state import cache_dir, local_inventory
from deploykit.topology import Topology, TopologyError
from faults import report, verdicts
from faults.definitions import CatalogueError, load, select
from faults.health import Unhealthy, check_health
from faults.runner import REPO_ROOT, run_fault, run_pytest


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="python -m faults",
        description="Inject each fault of the catalogue into the deployment OLLAMA_QA_INVENTORY "
        "names (by default the local topology), confirm it is live, run the tests named to catch "
        "it, restore the machine and check the site is healthy. Writes report.md and report.json.",
    )
    main.add_argument(
        "--only", action="append", default=[], metavar="ID", help="this fault only (repeatable)"
    )
    main.add_argument("--fast", action="store_true", help="the fast subset: one fault per role")
    main.add_argument("--list", action="store_true", help="list the faults and exit")
    main.add_argument(
        "--allow-any-inventory",
        action="store_true",
        help="run against an inventory that is not the local topology's: this breaks its "
        "machines on purpose, one at a time",
    )
    return main


@contextlib.contextmanager
def exclusive() -> Iterator[None]:
    """One fault run at a time from this machine: two would break each other's verdicts."""
    path = cache_dir() / "faults.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("waiting for another fault run on this machine to finish", flush=True)
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def baseline(tests: tuple[str, ...], artifacts: Path) -> list[verdicts.TestResult]:
    """The named tests that do not pass on the healthy deployment (they could catch nothing)."""
    results = run_pytest(tests, artifacts / "baseline.xml", artifacts / "baseline.log")
    return [r for r in results if r.kind != verdicts.PASSED]


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        chosen = select(load(), only=args.only, fast=args.fast)
    except CatalogueError as error:
        print(f"faults: {error}", file=sys.stderr)
        return 2
    if args.list:
        for fault in chosen:
            print(
                f"{fault.id:45} {fault.machine!s:7} {'fast' if fault.fast else '':5}{fault.summary}"
            )
        return 0
    try:
        target = inventory.inventory_from_env().resolve()
    except (FileNotFoundError, RuntimeError) as error:
        print(f"faults: {error}", file=sys.stderr)
        return 2
    if target != local_inventory().resolve() and not args.allow_any_inventory:
        print(
            f"faults: {target} is not the local topology's inventory. This runner breaks "
            "machines on purpose; pass --allow-any-inventory to run it there.",
            file=sys.stderr,
        )
        return 2
    artifacts = (
        Path(os.environ.get("OLLAMA_QA_ARTIFACTS") or REPO_ROOT / "test-artifacts") / "faults"
    )
    artifacts.mkdir(parents=True, exist_ok=True)
    try:
        topology = Topology.load(target)
    except TopologyError as error:
        print(f"faults: {error}", file=sys.stderr)
        return 2
    with exclusive():
        try:
            check_health(topology)
        except Unhealthy as error:
            print(
                f"faults: the deployment is not healthy before any fault: {error}", file=sys.stderr
            )
            return 1
        started = time.monotonic()
        tests = tuple(dict.fromkeys(test for fault in chosen for test in fault.tests))
        failing = baseline(tests, artifacts)
        baseline_seconds = time.monotonic() - started
        if failing:
            for result in failing:
                print(f"baseline: {result.node} {result.kind}: {result.message}", file=sys.stderr)
            print(
                "faults: these named tests do not pass on the healthy deployment, so they could "
                f"catch nothing; see the baseline.*.log files in {artifacts}",
                file=sys.stderr,
            )
            return 1
        print(f"baseline: {len(tests)} named tests pass ({baseline_seconds:.0f} s)", flush=True)
        outcomes = []
        for fault in chosen:
            outcome = run_fault(topology, fault, artifacts)
            outcomes.append(outcome)
            print(report.line(outcome), flush=True)
            if outcome.machine and not outcome.restored:
                print(f"faults: {fault.id} was not restored; stopping here", file=sys.stderr)
                break
    path = report.write(outcomes, artifacts, target, baseline_seconds)
    print(f"{report.summary(outcomes)}\nreport: {path}")
    return 0 if len(outcomes) == len(chosen) and all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
