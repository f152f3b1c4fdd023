"""HAProxy's runtime API for tests: the one client, whatever runs the probe on the load balancer.

The resilience suite runs the haproxy_api probe over SSH (deploykit.ssh.python), the Molecule
scenario through testinfra; both hand ``RuntimeAPI`` a function that runs the probe with the
given arguments as root and returns its output.
"""

from __future__ import annotations

from collections.abc import Callable

from deploykit.probes.haproxy_api import server_states

RUNNING = 2  # srv_op_state of a server that is up


def parse_stat(answer: str) -> list[dict[str, str]]:
    """The rows of "show stat" (CSV with a "# " header line) as dicts by column name."""
    header, *lines = answer.splitlines()
    columns = header.removeprefix("# ").split(",")
    return [dict(zip(columns, line.split(","), strict=False)) for line in lines if line]


class RuntimeAPI:
    """Commands to HAProxy's admin socket through ``run_probe(*haproxy_api arguments)``."""

    def __init__(self, run_probe: Callable[..., str], socket_path: str) -> None:
        self._run = run_probe
        self.socket_path = socket_path

    def send(self, command: str) -> str:
        """One runtime-API command; HAProxy's answer."""
        return self._run(self.socket_path, "send", command)

    def stat(self) -> list[dict[str, str]]:
        return parse_stat(self.send("show stat"))

    def servers(self, backend: str) -> dict[str, dict[str, str]]:
        """The servers of a backend as "show stat" reports them, by name.

        HAProxy marks the last check's status with "* " while the next check runs; that mark
        is removed, so check_status reads the same during a check.
        """
        servers = {
            row["svname"]: row
            for row in self.stat()
            if row["pxname"] == backend and row["svname"] not in ("FRONTEND", "BACKEND")
        }
        for row in servers.values():
            row["check_status"] = row["check_status"].removeprefix("* ")
        return servers

    def server_states(self, port: int | str) -> dict[str, int]:
        """Operational state of every server on ``port``, by address (2 means running)."""
        return server_states(self.send("show servers state"), str(port))

    def sessions(self, port: int | str) -> int:
        """Requests HAProxy is forwarding now to the servers on ``port``."""
        suffix = f":{port}"
        return sum(int(r["scur"]) for r in self.stat() if r.get("addr", "").endswith(suffix))

    def set_server_state(self, backend: str, server: str, state: str) -> str:
        """``set server BACKEND/SERVER state ready|drain|maint``."""
        return self.send(f"set server {backend}/{server} state {state}")

    def watch_arguments(self, port: int | str, address: str, seconds: float) -> tuple[str, ...]:
        """The probe's arguments that watch the server at ADDRESS:PORT go down (see the probe)."""
        return (self.socket_path, "watch", str(port), address, str(seconds))
