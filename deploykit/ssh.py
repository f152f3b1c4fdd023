"""Commands and probes on the machines over SSH, reached exactly as Ansible reaches them.

Same user, key, port and per-host ssh arguments as the inventory gives Ansible; with the
topology's known-hosts file, host keys are checked strictly. Nothing ever prompts.
"""

from __future__ import annotations

import contextlib
import shlex
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from deploykit.process import stop_process
from deploykit.wait import until

PROBES = Path(__file__).resolve().parent / "probes"
TUNNEL_SECONDS = 15


class SSHError(RuntimeError):
    """A command or probe on a machine failed, or a tunnel did not open; the message says why."""


@dataclass(frozen=True)
class Machine:
    """One machine of the inventory and how to reach it."""

    name: str
    ansible_host: str
    private_address: str
    user: str
    key_file: str
    port: int
    # Per-host ssh options from the inventory (a known-hosts file, a jump host in the cloud).
    ssh_args: tuple[str, ...] = ()
    # The topology's known-hosts file; "" leaves host keys to ssh's own settings.
    known_hosts: str = ""


def probe_source(name: str) -> str:
    """The text of deploykit/probes/NAME.py, as sent to ``python3 -c``."""
    return (PROBES / f"{name}.py").read_text()


def probe_argv(name: str, *args: str, python: str = "python3") -> list[str]:
    """``python3 -c <probe> ARGS``, for runners other than ssh (testinfra, docker exec)."""
    return [python, "-c", probe_source(name), *args]


def argv(machine: Machine, *options: str) -> list[str]:
    """The ssh command line for a machine.

    ssh takes the first value of each option, so the strict known-hosts check wins over the
    inventory's own ssh args.
    """
    line = ["ssh", "-i", machine.key_file, "-p", str(machine.port), "-o", "BatchMode=yes"]
    line += ["-o", "ConnectTimeout=10"]
    if machine.known_hosts:
        line += ["-o", "StrictHostKeyChecking=yes"]
        line += ["-o", f"UserKnownHostsFile={machine.known_hosts}"]
    return [*line, *machine.ssh_args, *options, f"{machine.user}@{machine.ansible_host}"]


def run(
    machine: Machine,
    command: str,
    *,
    timeout: float = 60,
    check: bool = True,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a shell command as root on a machine (the deploy user has passwordless sudo)."""
    done = _ssh(machine, f"sudo -n sh -c {shlex.quote(command)}", stdin, timeout)
    if check and done.returncode != 0:
        raise SSHError(
            f"{machine.name}: `{command}` exited {done.returncode}: {done.stderr.strip()}"
        )
    return done


def python(
    machine: Machine,
    probe: str,
    *args: str,
    root: bool = False,
    timeout: float = 60,
    stdin: str = "",
) -> str:
    """Run deploykit/probes/PROBE.py on a machine (python3 is there for Ansible); its stdout.

    Secrets go on stdin, never on the command line, where other users and logs could see them.
    """
    done = _ssh(machine, _remote(probe, args, root), stdin, timeout)
    if done.returncode != 0:
        raise SSHError(f"{machine.name}: {probe} exited {done.returncode}: {done.stderr}")
    return done.stdout


def watch(machine: Machine, probe: str, *args: str, root: bool = True) -> subprocess.Popen[str]:
    """Start a probe that prints "ready", then one line when it sees its event.

    Returns once the probe runs, so that an event caused next is seen from its start.
    """
    process = subprocess.Popen(  # noqa: S603 (fixed argv, no shell)
        [*argv(machine), _remote(probe, args, root)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    first = process.stdout.readline().strip()
    if first != "ready":
        process.kill()
        process.wait()
        raise SSHError(f"the watch on {machine.name} did not start: {first!r}")
    return process


@contextlib.contextmanager
def tunnel(machine: Machine, remote_port: int) -> Iterator[int]:
    """A local port forwarded to ``127.0.0.1:remote_port`` on the machine, for the block.

    Connections through it come from the machine's own loopback, which is what a test needs
    when it must not be seen as coming from this controller (login throttling is per address).
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        local_port = probe.getsockname()[1]
    forward = f"127.0.0.1:{local_port}:127.0.0.1:{remote_port}"
    # ssh's messages go to a file: a pipe nobody reads fills up and blocks ssh for good.
    with tempfile.TemporaryFile() as messages:
        process = subprocess.Popen(  # noqa: S603 (fixed argv, no shell)
            argv(machine, "-N", "-o", "ExitOnForwardFailure=yes", "-L", forward),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=messages,
        )

        def accepts() -> bool:
            if process.poll() is not None:
                raise SSHError("ssh exited")
            socket.create_connection(("127.0.0.1", local_port), timeout=1).close()
            return True

        try:
            try:
                until(accepts, TUNNEL_SECONDS, "no connection", interval=0.1, ignore=(OSError,))
            except (SSHError, TimeoutError):
                messages.seek(0)
                said = messages.read().decode(errors="replace").strip()
                raise SSHError(
                    f"tunnel to {machine.name}:{remote_port} did not open: {said}"
                ) from None
            yield local_port
        finally:
            stop_process(process)


def _remote(probe: str, args: tuple[str, ...], root: bool) -> str:
    return ("sudo -n " if root else "") + shlex.join(probe_argv(probe, *args))


def _ssh(
    machine: Machine, remote: str, stdin: str | None, timeout: float
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (fixed argv, no shell)
        [*argv(machine), remote],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
