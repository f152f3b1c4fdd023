"""Fixtures of the postgresql scenario: the role's settings, psql on either machine, test data."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from deploykit.variables import scenario_host_vars

CLIENT = "client-postgresql"


@pytest.fixture(scope="module")
def role_vars(host: Any) -> dict[str, Any]:
    """The inventory and the role's variables as Ansible resolved them: what the role ran with."""
    return scenario_host_vars(host)


@pytest.fixture(scope="module")
def client(host: Any) -> Any:
    """The machine standing in for a web machine: its address is the one listed."""
    return host.get_host(
        f"ansible://{CLIENT}", ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"]
    )


@pytest.fixture(scope="module")
def passwords(role_vars: dict[str, Any]) -> dict[str, str]:
    """Each role's password, as the scenario generated it into its ephemeral directory."""
    folder = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
    return {
        role_vars["postgresql_owner_role"]: (folder / "owner-password").read_text().split()[0],
        role_vars["postgresql_app_role"]: (folder / "app-password").read_text().split()[0],
    }


class Psql:
    """psql as a network client of the database, or as postgres on the database machine.

    The SQL goes in on standard input, so that values are psql variables (:'name' for a literal,
    :"name" for an identifier) rather than text pasted into the statement.
    """

    def __init__(self, role_vars: dict[str, Any], passwords: dict[str, str]) -> None:
        self.vars = role_vars
        self.passwords = passwords

    @staticmethod
    def _command(prefix: str, arguments: list[str], variables: dict[str, Any]) -> tuple[str, list]:
        settings = [f"{name}={value}" for name, value in variables.items()]
        command = "printf '%%s' %s | " + prefix + " psql -X -At -v ON_ERROR_STOP=1"
        return command + " %s" * len(arguments) + " -v %s" * len(settings), [*arguments, *settings]

    def connect(
        self,
        machine: Any,
        sql: str,
        user: str,
        options: str = "sslmode=verify-full",
        password: str | None = None,
        **variables: Any,
    ) -> Any:
        """Run sql over TCP at the private address as user; the result of the psql command."""
        conninfo = (
            f"host={self.vars['private_address']} port={self.vars['postgresql_port']} "
            f"dbname={self.vars['postgresql_database']} user={user} {options}"
        )
        command, arguments = self._command("PGPASSWORD=%s", [conninfo], variables)
        secret = self.passwords[user] if password is None else password
        return machine.run(command, sql, secret, *arguments)

    def local(self, machine: Any, sql: str, database: str | None = None, **variables: Any) -> str:
        """Run sql as postgres over the Unix socket on the database machine; its output."""
        command, arguments = self._command(
            "runuser -u postgres --",
            [
                "-p",
                str(self.vars["postgresql_port"]),
                "-d",
                database or self.vars["postgresql_database"],
            ],
            variables,
        )
        return machine.check_output(command, sql, *arguments)


@pytest.fixture(scope="module")
def psql(role_vars: dict[str, Any], passwords: dict[str, str]) -> Psql:
    """psql, with the scenario's settings and passwords."""
    return Psql(role_vars, passwords)


@pytest.fixture(scope="module")
def notes(client: Any, psql: Psql, role_vars: dict[str, Any]) -> list[str]:
    """A table the owner created, with rows the app wrote into it, as migrations and the app do."""
    owner, app = role_vars["postgresql_owner_role"], role_vars["postgresql_app_role"]
    created = psql.connect(
        client,
        "CREATE TABLE IF NOT EXISTS molecule_notes"
        " (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body text NOT NULL)",
        owner,
    )
    assert created.rc == 0, created.stderr
    for body in ("first note", "second note, ü"):
        written = psql.connect(
            client, "INSERT INTO molecule_notes (body) VALUES (:'body')", app, body=body
        )
        assert written.rc == 0, written.stderr
    rows = psql.connect(client, "SELECT id || ':' || body FROM molecule_notes ORDER BY id", app)
    assert rows.rc == 0, rows.stderr
    return rows.stdout.splitlines()
