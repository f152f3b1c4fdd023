"""Inject one fault, prove it live, run its tests, restore the machine, check the site is healthy.

The machine is changed only between a backup of the fault's files and their restoration, and the
restoration runs whatever happened in between (an interrupted run included).
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from deploykit import ssh
from deploykit.ssh import Machine
from deploykit.topology import Topology
from faults import verdicts
from faults.definitions import Fault, Target
from faults.health import Unhealthy, check_health

BACKUP_SUFFIX = ".ollama-qa-fault"
LIVE_SECONDS = 60
# Bounds one fault's tests; a suite that hangs past it is reported, not waited for.
TESTS_SECONDS = 900
REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Outcome:
    """What happened to one fault, step by step; ``problem`` says where it stopped."""

    fault: Fault
    machine: str = ""
    live: bool = False
    results: list[verdicts.TestResult] = field(default_factory=list)
    restored: bool = False
    healthy: bool = False
    seconds: float = 0.0
    problem: str = ""

    @property
    def catchers(self) -> list[verdicts.TestResult]:
        return [r for r in self.results if r.kind == verdicts.CAUGHT]

    @property
    def caught(self) -> bool:
        return self.live and bool(self.catchers)

    @property
    def ok(self) -> bool:
        return self.caught and self.restored and self.healthy and not self.problem


def machine_of(topology: Topology, target: Target) -> Machine:
    machines = {
        "lb": (topology.lb,),
        "web": topology.web,
        "llm": topology.llm,
        "db": (topology.db,),
    }
    group = machines[target.group]
    if target.index >= len(group):
        raise LookupError(f"{target} is not in the inventory: it has {len(group)} {target.group}")
    return group[target.index]


def run_pytest(tests: tuple[str, ...], report: Path, log: Path) -> list[verdicts.TestResult]:
    """The tests, one pytest process per suite; output goes to ``log``, verdicts to ``report``.

    Each suite's folder has its own conftest module, imported by that name: two suites in one
    process would clash.
    """
    suites: dict[str, list[str]] = {}
    for test in tests:
        suites.setdefault(test.split("/", 2)[1], []).append(test)
    results: list[verdicts.TestResult] = []
    for suite, named in suites.items():
        results += _run_suite(
            tuple(named),
            report.with_suffix(f".{suite}{report.suffix}"),
            log.with_suffix(f".{suite}{log.suffix}"),
        )
    return results


def _run_suite(tests: tuple[str, ...], report: Path, log: Path) -> list[verdicts.TestResult]:
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rN"]
    argv += ["--no-header", f"--junitxml={report}", *tests]
    report.unlink(missing_ok=True)
    with log.open("w") as output:
        try:
            subprocess.run(  # noqa: S603 (fixed argv)
                argv, cwd=REPO_ROOT, stdout=output, stderr=subprocess.STDOUT, timeout=TESTS_SECONDS
            )
        except subprocess.TimeoutExpired:
            return [
                verdicts.TestResult(t, verdicts.TIMEOUT, f"over {TESTS_SECONDS} s") for t in tests
            ]
    if not report.is_file():
        return [
            verdicts.TestResult(t, verdicts.CRASH, f"pytest wrote no report, see {log}")
            for t in tests
        ]
    results = verdicts.read(report)
    return results + [
        verdicts.TestResult(t, verdicts.CRASH, "did not run: no such test")
        for t in verdicts.missing(results, tests)
    ]


def _shell(machine: Machine, script: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return ssh.run(machine, script, timeout=timeout, check=False)


def _must(machine: Machine, script: str, what: str) -> None:
    done = _shell(machine, script)
    if done.returncode != 0:
        raise RuntimeError(
            f"{what} on {machine.name} exited {done.returncode}: {done.stderr.strip()[:300]}"
        )


def _live_within(machine: Machine, script: str, want: bool, seconds: float) -> bool:
    """Whether the live check reaches ``want`` (exit 0 means live) within ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        if (_shell(machine, script, timeout=60).returncode == 0) is want:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(2)


def _backup(machine: Machine, files: tuple[str, ...]) -> None:
    for path in files:
        quoted, backup = shlex.quote(path), shlex.quote(path + BACKUP_SUFFIX)
        # A backup left by an interrupted run holds the good file: refuse rather than overwrite it.
        _must(
            machine,
            f"test ! -e {backup} || {{ echo {backup} is left from an earlier run: put it back "
            f"over {quoted} first >&2; exit 1; }}; cp -a {quoted} {backup}",
            f"backing up {path}",
        )


def _put_back(machine: Machine, files: tuple[str, ...]) -> None:
    for path in files:
        _must(
            machine,
            f"mv -f {shlex.quote(path + BACKUP_SUFFIX)} {shlex.quote(path)}",
            f"putting {path} back",
        )


def run_fault(
    topology: Topology,
    fault: Fault,
    artifacts: Path,
    health: Callable[[Topology], None] = check_health,
) -> Outcome:
    """One fault from injection to a healthy site again; never raises for the fault's sake."""
    outcome = Outcome(fault)
    started = time.monotonic()
    try:
        machine = machine_of(topology, fault.machine)
        probe_machine = machine_of(topology, fault.live_target)
    except LookupError as error:
        outcome.problem = str(error)
        return outcome
    outcome.machine = machine.name
    backed_up = False
    try:
        _backup(machine, fault.files)
        backed_up = True
        _must(machine, fault.inject, "the injection")
        if fault.apply:
            _must(machine, fault.apply, "applying it")
        outcome.live = _live_within(probe_machine, fault.live, True, LIVE_SECONDS)
        if not outcome.live:
            outcome.problem = f"not live: its check never passed within {LIVE_SECONDS} s"
        else:
            outcome.results = run_pytest(
                fault.tests, artifacts / f"{fault.id}.xml", artifacts / f"{fault.id}.log"
            )
            if not outcome.catchers:
                outcome.problem = "missed: no named test failed on an assertion"
    except (RuntimeError, ssh.SSHError, subprocess.TimeoutExpired) as error:
        outcome.problem = str(error)
    finally:
        if backed_up:
            _restore(machine, probe_machine, fault, outcome)
        if outcome.restored:
            try:
                health(topology)
                outcome.healthy = True
            except Unhealthy as error:
                outcome.problem = outcome.problem or f"unhealthy after the restore: {error}"
        outcome.seconds = time.monotonic() - started
    return outcome


def _restore(machine: Machine, probe_machine: Machine, fault: Fault, outcome: Outcome) -> None:
    try:
        _put_back(machine, fault.files)
        undo = fault.restore or fault.apply
        if undo:
            _must(machine, undo, "the restore")
        outcome.restored = _live_within(probe_machine, fault.live, False, LIVE_SECONDS)
        if not outcome.restored:
            outcome.problem = outcome.problem or "still live after the restore"
    except (RuntimeError, ssh.SSHError, subprocess.TimeoutExpired) as error:
        outcome.problem = outcome.problem or f"restore failed: {error}"
