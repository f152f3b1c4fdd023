"""The deployed topology as the benchmark and the resilience and security tests reach it.

Everything comes from the deployment's own sources: the Ansible inventory (OLLAMA_QA_INVENTORY,
by default the one `make up` writes), the secrets file next to it, the ACME root next to it, and
the roles' defaults for ports and settings. Machines are reached over SSH exactly as Ansible
reaches them (same user, key and known-hosts file), so the same code serves a cloud inventory.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import json
import os
import posixpath
import secrets
import shlex
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
ANSIBLE_DIR = REPO_ROOT / "infrastructure" / "ansible"
LOCAL_STATE_DIR = Path.home() / ".cache" / "ollama-qa" / "local-topology"


# Asks Ollama on a machine's loopback what it is: {"version": {...}, "models": [names]}.
OLLAMA_PROBE = r"""
import json, sys, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}"
def get(path):
    with urllib.request.urlopen(base + path, timeout=10) as response:
        return json.load(response)
names = [m["name"] for m in get("/api/tags").get("models", [])]
print(json.dumps({"version": get("/api/version"), "models": names}))
"""

# CPU ticks (1/100 s) that Ollama's runner processes (`ollama runner ...`, one per loaded model)
# use during SECONDS: a runner that generates keeps cores busy, an idle one uses none.
RUNNER_CPU_PROBE = r"""
import os, sys, time
def ticks():
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            if len(argv) > 1 and argv[0].endswith(b"ollama") and argv[1] == b"runner":
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total
before = ticks()
time.sleep(float(sys.argv[1]))
print(ticks() - before)
"""


class TopologyError(RuntimeError):
    """The topology cannot be found or reached; the message says what to do."""


@dataclass(frozen=True)
class Simulator:
    """The project's Ollama simulator where a deployment runs one, and the models it serves."""

    machine: Machine
    models: tuple[str, ...]

    @property
    def model(self) -> str:
        """The model a test aims at to reach the simulator."""
        return self.models[0]


@functools.cache
def role_default(role: str, name: str) -> Any:
    """A role's default, read from the role itself so that no second copy can drift."""
    defaults = ANSIBLE_DIR / "roles" / role / "defaults" / "main.yml"
    return (yaml.safe_load(defaults.read_text()) or {})[name]


@functools.cache
def group_var(group: str, name: str) -> Any:
    """A literal value from the playbook's group_vars (what the play gives every host)."""
    return (yaml.safe_load((ANSIBLE_DIR / "group_vars" / f"{group}.yml").read_text()) or {})[name]


@functools.cache
def role_internal(role: str, name: str) -> Any:
    """A role's fixed value from its vars/main.yml (paths and names on the machine)."""
    internal = ANSIBLE_DIR / "roles" / role / "vars" / "main.yml"
    return (yaml.safe_load(internal.read_text()) or {})[name]


def gateway_ca_path() -> str:
    """Where the webapp role puts the gateway's CA certificate on a web machine (root-readable)."""
    config_dir = role_default("webapp", "webapp_config_dir")
    return posixpath.join(config_dir, role_internal("webapp", "__webapp_ca_file"))


def app_ca_path() -> str:
    """Where the private_tls role keeps the CA of a web machine's TLS certificate (root-only)."""
    ca_dir = role_default("webapp", "webapp_tls_ca_dir")
    return role_internal("private_tls", "__private_tls_ca_cert").replace(
        "{{ private_tls_ca_dir }}", ca_dir
    )


def postgresql_unit() -> str:
    """The systemd unit of the db machine's cluster: stopping or starting it waits for the
    server itself (Debian's postgresql.service only wraps it)."""
    version = str(role_internal("postgresql", "__postgresql_version"))
    return role_internal("postgresql", "__postgresql_service").replace(
        "{{ __postgresql_version }}", version
    )


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


@dataclass(frozen=True)
class Topology:
    """The machines, the site's name and the credentials of one deployment."""

    inventory_file: Path
    hostname: str
    lb: Machine
    web: tuple[Machine, ...]
    llm: tuple[Machine, ...]
    db: Machine
    ca_file: str  # the ACME CA that issued HAProxy's certificate; "" means the system's store
    known_hosts: str
    username: str
    password: str
    hostvars: dict[str, dict[str, Any]]

    @classmethod
    def load(cls) -> Topology:
        """The topology named by OLLAMA_QA_INVENTORY, or the local one."""
        inventory_file = Path(
            os.environ.get("OLLAMA_QA_INVENTORY") or LOCAL_STATE_DIR / "inventory.yml"
        ).expanduser()
        if not inventory_file.is_file():
            raise TopologyError(
                f"no inventory at {inventory_file}: bring the local topology up with `make up`, "
                "or point OLLAMA_QA_INVENTORY at a deployment's inventory"
            )
        data = _inventory(inventory_file)
        hostvars = data["_meta"]["hostvars"]

        def machine(name: str) -> Machine:
            values = hostvars[name]
            return Machine(
                name=name,
                ansible_host=values["ansible_host"],
                private_address=values["private_address"],
                user=values.get("ansible_user", "debian"),
                key_file=str(Path(values["ansible_ssh_private_key_file"]).expanduser()),
                port=int(values.get("ansible_port", 22)),
                ssh_args=tuple(shlex.split(values.get("ansible_ssh_common_args") or "")),
            )

        def members(group: str) -> list[str]:
            return list(data.get(group, {}).get("hosts", []))

        def first(group: str) -> Machine:
            if not members(group):
                raise TopologyError(f"{inventory_file} has no host in group {group}")
            return machine(members(group)[0])

        state_dir = inventory_file.parent
        ca_file = os.environ.get("OLLAMA_QA_CA_FILE") or str(state_dir / "acme-root.pem")
        known_hosts = state_dir / "known_hosts"
        lb = first("lb")
        return cls(
            inventory_file=inventory_file,
            hostname=hostvars[lb.name]["public_hostname"],
            lb=lb,
            web=tuple(machine(name) for name in members("web")),
            llm=tuple(machine(name) for name in members("llm")),
            db=first("db"),
            ca_file=ca_file if Path(ca_file).is_file() else "",
            known_hosts=str(known_hosts) if known_hosts.is_file() else "",
            username=os.environ.get("OLLAMA_QA_USERNAME")
            or group_var("web", "webapp_initial_users")[0]["username"],
            password=os.environ.get("OLLAMA_QA_PASSWORD") or _admin_password(state_dir),
            hostvars=hostvars,
        )

    # --- SSH, as Ansible does it ------------------------------------------------------------

    def ssh_argv(self, machine: Machine, *options: str) -> list[str]:
        """The ssh command line for a machine, never prompting.

        With the topology's known-hosts file, host keys are checked strictly against it; ssh
        takes the first value of each option, so these win over the inventory's own ssh args.
        """
        argv = ["ssh", "-i", machine.key_file, "-p", str(machine.port), "-o", "BatchMode=yes"]
        argv += ["-o", "ConnectTimeout=10"]
        if self.known_hosts:
            argv += [
                "-o",
                "StrictHostKeyChecking=yes",
                "-o",
                f"UserKnownHostsFile={self.known_hosts}",
            ]
        return [*argv, *machine.ssh_args, *options, f"{machine.user}@{machine.ansible_host}"]

    def run(
        self,
        machine: Machine,
        command: str,
        *,
        timeout: float = 60,
        check: bool = True,
        stdin: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a shell command as root on a machine (the deploy user has passwordless sudo)."""
        remote = f"sudo -n sh -c {shlex.quote(command)}"
        done = subprocess.run(  # noqa: S603 (fixed argv, no shell)
            [*self.ssh_argv(machine), remote],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            raise TopologyError(
                f"{machine.name}: `{command}` exited {done.returncode}: {done.stderr.strip()}"
            )
        return done

    def python(
        self,
        machine: Machine,
        code: str,
        *args: str,
        root: bool = False,
        timeout: float = 60,
        stdin: str = "",
    ) -> str:
        """Run a Python program on a machine (python3 is there for Ansible); returns stdout.

        Secrets go on stdin, never on the command line, where other users and logs could see them.
        """
        quoted = " ".join(shlex.quote(a) for a in ("python3", "-c", code, *args))
        done = subprocess.run(  # noqa: S603 (fixed argv, no shell)
            [*self.ssh_argv(machine), f"{'sudo -n ' if root else ''}{quoted}"],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise TopologyError(f"{machine.name}: probe exited {done.returncode}: {done.stderr}")
        return done.stdout

    @contextlib.contextmanager
    def tunnel(self, machine: Machine, remote_port: int) -> Iterator[int]:
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
                self.ssh_argv(machine, "-N", "-o", "ExitOnForwardFailure=yes", "-L", forward),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=messages,
            )
            try:
                deadline = time.monotonic() + 15
                while True:
                    with (
                        contextlib.suppress(OSError),
                        socket.create_connection(("127.0.0.1", local_port), timeout=1),
                    ):
                        break
                    if process.poll() is not None or time.monotonic() > deadline:
                        messages.seek(0)
                        said = messages.read().decode(errors="replace").strip()
                        raise TopologyError(
                            f"tunnel to {machine.name}:{remote_port} did not open: {said}"
                        )
                    time.sleep(0.1)
                yield local_port
            finally:
                stop_process(process)

    # --- The app's CLI and the database, on their machines ----------------------------------

    def webui(
        self, machine: Machine, *args: str, stdin: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """``python -m webui ARGS`` in the app's container on a web machine; passwords on stdin."""
        return self.in_app(machine, "python", "-m", "webui", *args, stdin=stdin, check=check)

    @contextlib.contextmanager
    def temporary_user(self, prefix: str) -> Iterator[tuple[str, str]]:
        """(name, password) of a user added with the CLI on the first web machine and removed at
        the end with its sessions and conversations, so a test leaves the deployment's own
        users and their histories as they were."""
        name, password = f"{prefix}-{secrets.token_hex(4)}", secrets.token_urlsafe(24)
        self.webui(self.web[0], "users", "add", name, stdin=password + "\n")
        try:
            yield name, password
        finally:
            self.webui(self.web[0], "users", "remove", name, check=False)

    def in_app(
        self, machine: Machine, *argv: str, stdin: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """A command in the app's container on a web machine, with the app's settings file."""
        container = role_default("webapp", "webapp_container_name")
        command = shlex.join(("docker", "exec", "-i", container, *argv))
        return self.run(machine, command, stdin=stdin, check=check)

    def app_setting(self, machine: Machine, name: str) -> Any:
        """A setting (field of webui.settings.Settings) as the app on a web machine reads it."""
        code = f"from webui.settings import load_settings; print(repr(load_settings().{name}))"
        return ast.literal_eval(self.in_app(machine, "python", "-c", code).stdout.strip())

    def psql(self, sql: str, database: str | None = None, **variables: str) -> str:
        """The unaligned rows of SQL run on the db machine as PostgreSQL's superuser (peer
        authentication on its socket, as an operator would). The SQL goes on stdin; values go in
        as psql variables, quoted by psql itself where the SQL says :'name'."""
        name = database or role_default("postgresql", "postgresql_database")
        argv = ["runuser", "-u", "postgres", "--", "psql", "-XAtq", "-v", "ON_ERROR_STOP=1"]
        argv += [f"--set={key}={value}" for key, value in variables.items()]
        return self.run(self.db, f"cd / && {shlex.join([*argv, '-d', name])}", stdin=sql).stdout

    # --- HTTPS to HAProxy by name, or to one web machine ------------------------------------

    def ssl_context(self) -> ssl.SSLContext:
        """Verifies HAProxy's certificate against the ACME CA; never turns verification off."""
        return ssl.create_default_context(cafile=self.ca_file or None)

    def client(self, address: str | None = None, port: int = 443) -> SiteClient:
        """An HTTPS client for the site, connecting to HAProxy (or a tunnel) by address."""
        return SiteClient(self, address or self.lb.ansible_host, port)

    @contextlib.contextmanager
    def app_client(self, machine: Machine, client_address: str) -> Iterator[SiteClient]:
        """An HTTPS client for the app on one web machine, past HAProxy, through an SSH tunnel.

        The app's certificate is checked against that machine's private CA under its inventory
        name, as HAProxy checks it. Requests carry the site's name and, in X-Forwarded-For, the
        ``client_address`` HAProxy would have added: the app trusts it from its proxy, and
        counts failed logins by it, so a test's own address keeps its throttling to itself.
        """
        pem = self.run(machine, f"cat {shlex.quote(app_ca_path())}").stdout
        context = ssl.create_default_context(cadata=pem)
        with (
            self.tunnel(machine, int(role_default("webapp", "webapp_port"))) as port,
            SiteClient(
                self,
                "127.0.0.1",
                port,
                context=context,
                server_name=machine.name,
                headers={"X-Forwarded-For": client_address},
            ) as client,
        ):
            yield client

    @property
    def origin(self) -> str:
        return f"https://{self.hostname}"

    def var(self, machine: Machine, role: str, name: str) -> Any:
        """A role variable as the play saw it on a machine: the inventory's value, else the default.

        Only literal defaults are meaningful here; templated ones need the play to resolve them.
        """
        return self.hostvars[machine.name].get(name, role_default(role, name))

    def ollama(self, machine: Machine) -> dict[str, Any]:
        """What Ollama on an LLM machine reports of itself: its version object and model names."""
        port = str(self.var(machine, "ollama", "ollama_port"))
        return json.loads(self.python(machine, OLLAMA_PROBE, port))

    def runner_ticks(self, machine: Machine, seconds: float) -> int:
        """CPU ticks Ollama's runners on a machine use during ``seconds`` (0 while idle)."""
        return int(self.python(machine, RUNNER_CPU_PROBE, str(seconds), timeout=seconds + 30))

    @functools.cached_property
    def simulator(self) -> Simulator | None:
        """The first LLM machine whose Ollama says it is the simulator, or None.

        Found by asking each machine, not by its name or the inventory, so a test aims at the
        simulator only where the deployment really runs one; on a deployment of real Ollama
        machines the tests that need its speed or its fault directives do not apply.
        """
        for machine in self.llm:
            found = self.ollama(machine)
            if found["version"].get("simulator") and found["models"]:
                return Simulator(machine, tuple(found["models"]))
        return None

    def require_simulator(self) -> Simulator:
        """The simulator, or a clear error for a suite that cannot run without it."""
        if self.simulator is None:
            raise TopologyError(
                "this check drives the Ollama simulator (fault directives, exact token counts), "
                f"and no LLM machine of {self.inventory_file} runs it"
            )
        return self.simulator

    def secret(self, name: str) -> str:
        """A deployment secret (vault_* variable) for a test that must prove the right one works."""
        return read_secret(self.inventory_file.parent, name)


class SiteClient:
    """httpx against HAProxy's address with the site's name for SNI, Host and verification.

    The public name need not resolve on this machine (it does not for the local topology), so
    requests go to the address and carry the name where TLS and HTTP expect it. Cookies are kept
    by hand: a jar would file them under the address, and the session cookie is all we need.
    """

    def __init__(
        self,
        topology: Topology,
        address: str,
        port: int,
        *,
        context: ssl.SSLContext | None = None,
        server_name: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.topology = topology
        self.address = address
        self.port = port
        self.cookie = ""
        # Where TLS is checked against another CA than the site's, under another name (SNI).
        self.server_name = server_name or topology.hostname
        self.headers = {"Host": topology.hostname, **(headers or {})}
        self._http = httpx.Client(
            base_url=f"https://{address}:{port}",
            verify=context or topology.ssl_context(),
            timeout=30,
        )

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self._http.request(method, path, **self._arguments(kwargs))

    def stream(
        self, method: str, path: str, **kwargs: Any
    ) -> contextlib.AbstractContextManager[httpx.Response]:
        """Like ``request``, with the body left to read as it arrives."""
        return self._http.stream(method, path, **self._arguments(kwargs))

    def _arguments(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """httpx's arguments: the site's name (Host, SNI) and the session cookie, if any."""
        headers = {**self.headers, **kwargs.pop("headers", {})}
        if self.cookie and "Cookie" not in headers:
            headers["Cookie"] = self.cookie
        return {"headers": headers, "extensions": {"sni_hostname": self.server_name}, **kwargs}

    def login(self, username: str | None = None, password: str | None = None) -> str:
        """Log in (by default as the deployment's initial user); returns the Cookie header value."""
        response = self.request(
            "POST",
            "/login",
            data={
                "username": username or self.topology.username,
                "password": password or self.topology.password,
            },
            headers={"Origin": self.topology.origin},
        )
        cookie = response.cookies.get("__Host-webui_session")
        if response.status_code != 303 or not cookie:
            raise TopologyError(f"login failed: HTTP {response.status_code} {response.text[:200]}")
        self.cookie = f"__Host-webui_session={cookie}"
        return self.cookie

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SiteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def stop_process(process: subprocess.Popen[Any], grace_seconds: float = 10) -> None:
    """End a process we started: SIGTERM, then SIGKILL if it is still there after the grace."""
    process.terminate()
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _inventory(path: Path) -> dict[str, Any]:
    """The inventory as Ansible resolves it (groups, host and group variables)."""
    # The one installed next to this interpreter, so an un-activated venv works too.
    beside = Path(sys.executable).with_name("ansible-inventory")
    program = str(beside) if beside.is_file() else "ansible-inventory"
    out = subprocess.run(  # noqa: S603 (fixed argv, no shell)
        [program, "-i", str(path), "--list"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return json.loads(out)


def _admin_password(state_dir: Path) -> str:
    return read_secret(state_dir, "vault_webapp_admin_password")


def read_secret(state_dir: Path, name: str) -> str:
    """A vault_* value from the secrets file `make up` writes next to the local inventory."""
    secrets = state_dir / "secrets.yml"
    if not secrets.is_file():
        raise TopologyError(f"{name} is needed: put secrets.yml (0600) next to the inventory")
    return yaml.safe_load(secrets.read_text())[name]
