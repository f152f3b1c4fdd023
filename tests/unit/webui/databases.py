"""The databases the store is tested on: an SQLite file, and a real PostgreSQL on loopback.

PostgreSQL comes from Debian's server binaries, started by pytest-postgresql's executor in a
directory of its own, and set up as the postgresql role sets up the database machine: an owner
role that migrates, an app role with only SELECT, INSERT, UPDATE and DELETE, and passwords
checked with scram-sha-256 over TCP. PostgreSQL refuses to run as root, so under root (CI) its
pg_ctl runs as the ``postgres`` user that Debian's package creates.
"""

import glob
import itertools
import os
import pwd
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import port_for
import psycopg
import pytest
from pytest_postgresql.executors import PostgreSQLExecutor

from webui.store import Store

OWNER, OWNER_PASSWORD = "webui_owner", "owner-password-for-tests"
APP, APP_PASSWORD = "webui_app", "app-password-for-tests"
SERVER_USER = "postgres"


def pg_ctl() -> str:
    """Debian's pg_ctl (not on PATH), or one on PATH elsewhere."""
    found = shutil.which("pg_ctl") or max(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), default="")
    if not found:
        pytest.fail(
            "PostgreSQL's server is not installed: `python3 -m lifecycle bootstrap` installs it"
        )
    return found


class PostgresServer:
    """A throwaway PostgreSQL server; ``stop()`` and ``start()`` it to play an outage."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="webui-postgresql-"))
        executable = pg_ctl()
        if os.geteuid() == 0:
            user = pwd.getpwnam(SERVER_USER)
            os.chown(self.dir, user.pw_uid, user.pw_gid)
            wrapper = self.dir / "pg_ctl"
            wrapper.write_text(
                "#!/bin/sh\n"
                f"exec setpriv --reuid={SERVER_USER} --regid={SERVER_USER} --init-groups "
                f'{executable} "$@"\n'
            )
            wrapper.chmod(0o755)
            executable = str(wrapper)
        self.port = port_for.select_random()
        self.executor = PostgreSQLExecutor(
            executable=executable,
            host="127.0.0.1",
            port=self.port,
            datadir=str(self.dir / "data"),
            unixsocketdir=str(self.dir),
            logfile=str(self.dir / "postgresql.log"),
            startparams="-w",
            dbname="postgres",
        )
        self._names = (f"webui_test_{n}" for n in itertools.count())

    def prepare(self) -> None:
        """Start the server and make the roles the database machine has."""
        self.start()
        # The test's own superuser connection comes through the socket; everyone else through
        # TCP with a password, as on the database machine.
        (self.dir / "data" / "pg_hba.conf").write_text(
            f"local all {SERVER_USER} trust\nhost all all 127.0.0.1/32 scram-sha-256\n"
        )
        self.admin("SELECT pg_reload_conf()")
        self.admin(
            f"CREATE ROLE {OWNER} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
            f"PASSWORD '{OWNER_PASSWORD}'"
        )
        self.admin(
            f"CREATE ROLE {APP} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT "
            f"PASSWORD '{APP_PASSWORD}'"
        )

    def _connect(self, dbname: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(
            host=str(self.dir), port=self.port, user=SERVER_USER, dbname=dbname, autocommit=True
        )

    def admin(self, sql: str, dbname: str = "postgres") -> None:
        """Run one statement as the superuser."""
        with self._connect(dbname) as connection:
            connection.execute(sql)  # type: ignore[arg-type]

    def create_database(self) -> str:
        """A new empty database with the grants of the database machine; returns its name."""
        name = next(self._names)
        self.admin(f"CREATE DATABASE {name} OWNER {OWNER}")
        self.admin(f"REVOKE CONNECT ON DATABASE {name} FROM PUBLIC")
        self.admin(f"GRANT CONNECT ON DATABASE {name} TO {OWNER}, {APP}")
        self.admin(
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {OWNER} IN SCHEMA public "
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP}",
            name,
        )
        return name

    def drop_database(self, name: str) -> None:
        self.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def url(self, user: str, name: str) -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        self.executor.stop()

    def start(self) -> None:
        """Start, and return once connections are taken: the executor returns as soon as the
        port is open, while PostgreSQL may still refuse them as "starting up"."""
        self.executor.start()
        deadline = time.monotonic() + 30
        while True:
            try:
                self._connect().close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def remove(self) -> None:
        if self.executor.running():
            self.executor.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@dataclass
class Database:
    """One empty database to test on, and the stores opened on it (closed after the test)."""

    kind: str
    url: str
    password: str = ""
    owner_url: str = ""
    owner_password: str = ""
    stores: list[Store] = field(default_factory=list)

    def open(self, owner: bool = False) -> Store:
        """A store as the app opens it (or as ``migrate`` does, with ``owner``)."""
        if owner and self.owner_url:
            store = Store.open(self.owner_url, self.owner_password)
        else:
            store = Store.open(self.url, self.password)
        self.stores.append(store)
        return store

    def migrated(self) -> Store:
        """A store on the database after migrating it, as a deployment runs it."""
        self.open(owner=True).migrate()
        return self.open()

    def close(self) -> None:
        for store in self.stores:
            store.close()
