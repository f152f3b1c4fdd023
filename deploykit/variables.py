"""The roles' variables as Ansible resolves them for each host: the one reader of role defaults.

Tests and the benchmark expect what the play ran with: a role's defaults and vars, overridden
by the site's group_vars and the inventory, templated by Ansible (lookups, filters, references
to other hosts). Rather than re-reading the roles' YAML and imitating Jinja, one
``ansible-playbook`` run per inventory asks Ansible for the values: a generated play names every
role (so their defaults and vars load) but runs none of their tasks, and one task reports, per
host, each variable of a role, ``public_hostname`` and ``private_address``.

A value Ansible cannot template without the play having run (a fact another play publishes, a
secret from the vault, which is never given to this run) is left out: asking for it is a
KeyError, not a guess. Every role's defaults apply to every host here, also to hosts whose plays
do not run the role: ask a host of the role's group for what group_vars may override.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from deploykit.inventory import ansible_command
from deploykit.state import ANSIBLE_DIR

ROLES_DIR = ANSIBLE_DIR / "roles"
# What query('vars') answers for a variable whose template fails; no real value looks like it.
UNRESOLVED = "__deploykit_unresolved__"
TAG = "deploykit_variables"
# Variables every role reads from the inventory, besides the roles' own.
SHARED = ("public_hostname", "private_address")


class Variables:
    """Resolved variables by host."""

    def __init__(self, by_host: Mapping[str, Mapping[str, Any]]) -> None:
        self._by_host = by_host

    def of(self, host: str) -> Mapping[str, Any]:
        """Every resolved variable of a host."""
        return self._by_host[host]

    def get(self, host: str, name: str) -> Any:
        """One variable of a host; KeyError if the host has no resolved value for it."""
        values = self._by_host[host]
        if name not in values:
            raise KeyError(f"{name} has no value Ansible could resolve for {host}")
        return values[name]

    def any(self, name: str) -> Any:
        """A variable from the first host that has it, for values the same on every host.

        A role default that group_vars override for the role's group differs between hosts;
        ``get`` on a host of that group gives the value the play used.
        """
        for values in self._by_host.values():
            if name in values:
                return values[name]
        raise KeyError(f"{name} has no value Ansible could resolve for any host")


def _playbook(roles: list[str]) -> list[dict[str, Any]]:
    names = "^_*(" + "|".join([*roles, *SHARED]) + ")(_|$)"
    report = (
        "{{ dict(__deploykit_names | zip(query('ansible.builtin.vars', *__deploykit_names,"
        f" default='{UNRESOLVED}'))) | to_yaml }}}}"
    )
    return [
        {
            "name": "Report the roles' variables as the site's plays see them",
            "hosts": "all",
            "gather_facts": False,
            "pre_tasks": [
                {
                    "name": "Report every role variable of this host.",
                    "ansible.builtin.debug": {"msg": report},
                    "vars": {
                        "__deploykit_names": (
                            f"{{{{ query('ansible.builtin.varnames', '{names}') }}}}"
                        )
                    },
                    "tags": [TAG],
                }
            ],
            "roles": [{"role": role} for role in roles],
        }
    ]


def _run(inventory: Path, playbook_dir: Path | None) -> dict[str, dict[str, Any]]:
    roles = sorted(path.name for path in ROLES_DIR.iterdir() if (path / "tasks").is_dir())
    with tempfile.TemporaryDirectory(prefix="deploykit-variables-") as folder:
        here = Path(folder)
        # Playbook-relative group_vars/host_vars apply to a play beside them, as to site.yml.
        for kind in ("group_vars", "host_vars"):
            if playbook_dir is not None and (playbook_dir / kind).is_dir():
                (here / kind).symlink_to(playbook_dir / kind)
        playbook = here / "variables.yml"
        playbook.write_text(yaml.safe_dump(_playbook(roles), sort_keys=False))
        env = {
            **os.environ,
            "ANSIBLE_ROLES_PATH": str(ROLES_DIR),
            "ANSIBLE_STDOUT_CALLBACK": "json",
            "ANSIBLE_RETRY_FILES_ENABLED": "false",
        }
        # The roles' tasks are skipped by tag; so are the argument checks Ansible adds to each
        # role (tagged "always"), which need what only a real play gives.
        argv = [ansible_command("ansible-playbook"), "-i", str(inventory), str(playbook)]
        argv += ["--tags", TAG, "--skip-tags", "always"]
        done = subprocess.run(  # noqa: S603 (Ansible's own program, arguments built here)
            argv, env=env, capture_output=True, text=True, check=False
        )
    try:
        results = json.loads(done.stdout)["plays"][0]["tasks"][0]["hosts"]
    except (ValueError, KeyError, IndexError):
        # Ansible's own message; values are in stdout, which is not shown.
        raise RuntimeError(
            f"ansible-playbook could not resolve the roles' variables for {inventory} "
            f"(exit {done.returncode}): {done.stderr.strip()[-2000:]}"
        ) from None
    failed = {host: result["msg"] for host, result in results.items() if result.get("failed")}
    if failed or done.returncode != 0:
        # Only a failed report's message (a templating error, which names templates, not values).
        reasons = "; ".join(f"{host}: {message}" for host, message in sorted(failed.items()))
        raise RuntimeError(
            f"ansible-playbook could not resolve the roles' variables for {inventory} "
            f"(exit {done.returncode}) {reasons}"
        )
    resolved = {}
    for host, result in results.items():
        values = yaml.safe_load(result["msg"])
        resolved[host] = {name: value for name, value in values.items() if value != UNRESOLVED}
    return resolved


@functools.cache
def resolve(inventory: Path, playbook_dir: Path | None = ANSIBLE_DIR) -> Variables:
    """The roles' variables for every host of ``inventory``, resolved once per process.

    ``playbook_dir`` holds the group_vars and host_vars of the site's playbook; None for a
    Molecule scenario, whose variables are all in its inventory.
    """
    return Variables(_run(Path(inventory), playbook_dir))


def scenario() -> Variables:
    """The variables of the Molecule scenario under test (its testinfra verifier's inventory).

    Molecule writes the scenario's inventory as a directory (hosts, group_vars, host_vars), the
    one its converge ran with.
    """
    return resolve(Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent, playbook_dir=None)


def scenario_host_vars(host: Any) -> dict[str, Any]:
    """A testinfra host's scenario inventory with its roles' variables resolved over it.

    The inventory's own values (the scenario's stand-ins, ``groups``) are as testinfra reads
    them; every role variable is Ansible's resolved value, as the converge had it.
    """
    return {**host.ansible.get_variables(), **scenario().of(host.backend.get_hostname())}


def main(argv: list[str] | None = None) -> None:
    """``python -m deploykit.variables INVENTORY HOST NAME`` prints one resolved value as JSON,
    for programs outside Python's reach of Ansible (the lifecycle runs on the system's python)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m deploykit.variables", description=main.__doc__)
    parser.add_argument("inventory", type=Path)
    parser.add_argument("host")
    parser.add_argument("name")
    arguments = parser.parse_args(argv)
    print(json.dumps(resolve(arguments.inventory).get(arguments.host, arguments.name)))


if __name__ == "__main__":
    main()
