"""The deployed topology as the benchmark and the deployment suites reach it.

Everything comes from the deployment's own sources: the Ansible inventory (OLLAMA_QA_INVENTORY,
by default the one `make up` writes), the secrets file and the ACME root next to it, and the
role variables as Ansible resolves them for each machine (deploykit.variables). Machines are
reached over SSH exactly as Ansible reaches them, so the same code serves a cloud inventory.
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
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from deploykit import inventory, ssh, variables
from deploykit.client import SiteClient
from deploykit.haproxy import RuntimeAPI
from deploykit.ssh import Machine

GROUPS = ("lb", "web", "llm", "db")
# The file name of the private_tls role's CA certificate in its CA folder (its
# __private_tls_ca_cert). Ansible cannot resolve that variable outside the role's inclusion,
# where the including role names the folder, so the name is stated here.
PRIVATE_TLS_CA_CERT = "ca.crt"


class TopologyError(RuntimeError):
    """The topology cannot be found or lacks what a check needs; the message says what to do."""


@dataclass(frozen=True)
class Simulator:
    """The project's Ollama simulator where a deployment runs one, and the models it serves."""

    machine: Machine
    models: tuple[str, ...]

    @property
    def model(self) -> str:
        """The model a test aims at to reach the simulator."""
        return self.models[0]


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
    password: str
    hostvars: dict[str, dict[str, Any]]

    @classmethod
    def load(cls, inventory_file: Path | None = None) -> Topology:
        """The topology of ``inventory_file``, else OLLAMA_QA_INVENTORY's, else the local one."""
        try:
            path = inventory_file or inventory.inventory_from_env()
        except (FileNotFoundError, RuntimeError) as error:
            raise TopologyError(str(error)) from None
        loaded = inventory.load(path)
        state_dir = path.parent
        known_hosts = state_dir / "known_hosts"
        known = str(known_hosts) if known_hosts.is_file() else ""

        def machine(name: str) -> Machine:
            values = loaded.hostvars(name)
            return Machine(
                name=name,
                ansible_host=values["ansible_host"],
                private_address=values["private_address"],
                user=values.get("ansible_user", "debian"),
                key_file=str(Path(values["ansible_ssh_private_key_file"]).expanduser()),
                port=int(values.get("ansible_port", 22)),
                ssh_args=tuple(shlex.split(values.get("ansible_ssh_common_args") or "")),
                known_hosts=known,
            )

        def first(group: str) -> Machine:
            if not loaded.hosts(group):
                raise TopologyError(f"{path} has no host in group {group}")
            return machine(loaded.hosts(group)[0])

        ca_file = os.environ.get("OLLAMA_QA_CA_FILE") or str(state_dir / "acme-root.pem")
        lb = first("lb")
        return cls(
            inventory_file=path,
            hostname=loaded.hostvars(lb.name)["public_hostname"],
            lb=lb,
            web=tuple(machine(name) for name in loaded.hosts("web")),
            llm=tuple(machine(name) for name in loaded.hosts("llm")),
            db=first("db"),
            ca_file=ca_file if Path(ca_file).is_file() else "",
            known_hosts=known,
            password=os.environ.get("OLLAMA_QA_PASSWORD")
            or read_secret(state_dir, "vault_webapp_admin_password"),
            hostvars={name: loaded.hostvars(name) for name in loaded.hosts(*GROUPS)},
        )

    # --- Role variables, as Ansible resolves them -------------------------------------------

    @functools.cached_property
    def variables(self) -> variables.Variables:
        """Every machine's role variables, resolved by Ansible once per process."""
        return variables.resolve(self.inventory_file)

    def var(self, machine: Machine, name: str) -> Any:
        """A role variable as the play sees it on a machine."""
        return self.variables.get(machine.name, name)

    @functools.cached_property
    def username(self) -> str:
        """OLLAMA_QA_USERNAME, else the deployment's first user (webapp_admin_username)."""
        if os.environ.get("OLLAMA_QA_USERNAME"):
            return os.environ["OLLAMA_QA_USERNAME"]
        try:
            return self.var(self.web[0], "webapp_admin_username")
        except KeyError:
            raise TopologyError(
                "set OLLAMA_QA_USERNAME: the inventory gives no webapp_admin_username"
            ) from None

    def gateway_ca_path(self, machine: Machine) -> str:
        """Where the webapp role puts the gateway's CA certificate on a web machine (root-only)."""
        return posixpath.join(
            self.var(machine, "webapp_config_dir"), self.var(machine, "__webapp_ca_file")
        )

    def app_ca_path(self, machine: Machine) -> str:
        """Where a web machine keeps the CA of its app's TLS certificate (root-only): the
        private_tls role's CA certificate, in the folder the webapp role gives that role."""
        return posixpath.join(self.var(machine, "webapp_tls_ca_dir"), PRIVATE_TLS_CA_CERT)

    def postgresql_unit(self) -> str:
        """The systemd unit of the db machine's cluster: stopping or starting it waits for the
        server itself (Debian's postgresql.service only wraps it)."""
        return self.var(self.db, "__postgresql_service")

    # --- SSH, as Ansible does it ------------------------------------------------------------

    def ssh_argv(self, machine: Machine, *options: str) -> list[str]:
        return ssh.argv(machine, *options)

    def run(
        self, machine: Machine, command: str, **options: Any
    ) -> subprocess.CompletedProcess[str]:
        """Run a shell command as root on a machine (options: see deploykit.ssh.run)."""
        return ssh.run(machine, command, **options)

    def python(self, machine: Machine, probe: str, *args: str, **options: Any) -> str:
        """Run the probe deploykit/probes/PROBE.py on a machine; its stdout (options: see
        deploykit.ssh.python)."""
        return ssh.python(machine, probe, *args, **options)

    def tunnel(self, machine: Machine, remote_port: int) -> contextlib.AbstractContextManager[int]:
        """A local port forwarded to ``127.0.0.1:remote_port`` on the machine, for the block."""
        return ssh.tunnel(machine, remote_port)

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
        container = self.var(machine, "webapp_container_name")
        command = shlex.join(("docker", "exec", "-i", container, *argv))
        return self.run(machine, command, stdin=stdin, check=check)

    def app_setting(self, machine: Machine, name: str) -> Any:
        """A setting (field of webui.settings.Settings) as the app on a web machine reads it."""
        done = self.in_app(machine, *ssh.probe_argv("app_setting", name, python="python"))
        return ast.literal_eval(done.stdout.strip())

    def psql(self, sql: str, database: str | None = None, **values: str) -> str:
        """The unaligned rows of SQL run on the db machine as PostgreSQL's superuser (peer
        authentication on its socket, as an operator would). The SQL goes on stdin; values go in
        as psql variables, quoted by psql itself where the SQL says :'name'."""
        name = database or self.var(self.db, "postgresql_database")
        argv = ["runuser", "-u", "postgres", "--", "psql", "-XAtq", "-v", "ON_ERROR_STOP=1"]
        argv += [f"--set={key}={value}" for key, value in values.items()]
        return self.run(self.db, f"cd / && {shlex.join([*argv, '-d', name])}", stdin=sql).stdout

    # --- HTTPS to HAProxy by name, or to one web machine ------------------------------------

    def ssl_context(self) -> ssl.SSLContext:
        """Verifies HAProxy's certificate against the ACME CA; never turns verification off."""
        return ssl.create_default_context(cafile=self.ca_file or None)

    def client(self, address: str | None = None, port: int = 443) -> SiteClient:
        """An HTTPS client for the site, connecting to HAProxy (or a tunnel) by address."""
        return SiteClient(
            address or self.lb.ansible_host,
            port,
            host=self.hostname,
            origin=self.origin,
            context=self.ssl_context(),
            username=self.username,
            password=self.password,
        )

    @contextlib.contextmanager
    def app_client(self, machine: Machine, client_address: str) -> Iterator[SiteClient]:
        """An HTTPS client for the app on one web machine, past HAProxy, through an SSH tunnel.

        The app's certificate is checked against that machine's private CA under its inventory
        name, as HAProxy checks it. Requests carry the site's name and, in X-Forwarded-For, the
        ``client_address`` HAProxy would have added: the app trusts it from its proxy, and
        counts failed logins by it, so a test's own address keeps its throttling to itself.
        """
        pem = self.run(machine, f"cat {shlex.quote(self.app_ca_path(machine))}").stdout
        with (
            self.tunnel(machine, int(self.var(machine, "webapp_port"))) as port,
            SiteClient(
                "127.0.0.1",
                port,
                host=self.hostname,
                origin=self.origin,
                context=ssl.create_default_context(cadata=pem),
                server_name=machine.name,
                headers={"X-Forwarded-For": client_address},
                username=self.username,
                password=self.password,
            ) as client,
        ):
            yield client

    @property
    def origin(self) -> str:
        return f"https://{self.hostname}"

    # --- HAProxy on the load balancer ---------------------------------------------------------

    def haproxy(self) -> RuntimeAPI:
        """HAProxy's runtime API on the load balancer, through the haproxy_api probe as root."""
        return RuntimeAPI(
            lambda *args: self.python(self.lb, "haproxy_api", *args, root=True),
            self.var(self.lb, "haproxy_admin_socket"),
        )

    # --- Ollama on the LLM machines ---------------------------------------------------------

    def ollama(self, machine: Machine) -> dict[str, Any]:
        """What Ollama on an LLM machine reports of itself: its version object and model names."""
        port = str(self.var(machine, "ollama_port"))
        return json.loads(self.python(machine, "ollama_info", port))

    def runner_ticks(self, machine: Machine, seconds: float) -> int:
        """CPU ticks Ollama's runners on a machine use during ``seconds`` (0 while idle)."""
        return int(self.python(machine, "runner_cpu", str(seconds), timeout=seconds + 30))

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


def pick_model(listing: dict[str, Any], simulated: tuple[str, ...]) -> str | None:
    """The site's default model unless it is simulated, else the first model that is not."""
    names = [m["name"] for m in listing.get("models", [])]
    return next((n for n in (listing.get("default"), *names) if n and n not in simulated), None)


def read_secret(state_dir: Path, name: str) -> str:
    """A vault_* value from the secrets file `make up` writes next to the local inventory."""
    path = state_dir / "secrets.yml"
    if not path.is_file():
        raise TopologyError(f"{name} is needed: put secrets.yml (0600) next to the inventory")
    return yaml.safe_load(path.read_text())[name]
