"""The database machine: private address, TLS, scram, pg_hba and firewall, privileges, backups."""

from __future__ import annotations

import shlex
from typing import Any

import pytest
from conftest import Psql

from deploykit.ssh import probe_argv

testinfra_hosts = ["db-postgresql"]

# A table owned by a role that is gone by the time the dump is restored: pg_restore fails halfway.
_BROKEN_DUMP = """
set -e
cd /
runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p {port} <<'SQL'
CREATE ROLE molecule_gone;
CREATE DATABASE molecule_scratch;
\\c molecule_scratch
CREATE TABLE orphan (i int);
ALTER TABLE orphan OWNER TO molecule_gone;
SQL
runuser -u postgres -- pg_dump -p {port} -Fc -f /tmp/broken.dump molecule_scratch
runuser -u postgres -- dropdb -p {port} molecule_scratch
runuser -u postgres -- dropuser -p {port} molecule_gone
"""


def test_listens_on_the_private_address_only(host: Any, role_vars: dict[str, Any]) -> None:
    """The only TCP socket on the port is the private address's, not 0.0.0.0 or loopback."""
    port = role_vars["postgresql_port"]
    listening = [s for s in host.socket.get_listening_sockets() if s.endswith(f":{port}")]
    assert listening == [f"tcp://{role_vars['private_address']}:{port}"]


def test_listed_client_connects_over_verified_tls_1_3(
    client: Any, psql: Psql, role_vars: dict[str, Any]
) -> None:
    """The listed client gets in with verify-full against the published CA, over TLS 1.3."""
    session = "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
    result = psql.connect(client, session, role_vars["postgresql_app_role"])
    assert (result.rc, result.stdout.strip()) == (0, "t|TLSv1.3"), result.stderr


# Every way in but the one allowed, each with what the refusal says; values in braces come from
# the role's variables. The allowed way: TLS 1.3, the certificate verified for the private address,
# the right password, from a listed address, to the one database.
REFUSALS = [
    pytest.param("client", "sslmode=disable", False, "rejects connection", id="without-tls"),
    pytest.param(
        "client",
        "sslmode=verify-full ssl_max_protocol_version=TLSv1.2",
        False,
        "protocol version",
        id="tls-1.2",
    ),
    pytest.param(
        "client",
        "sslmode=verify-full host=other.invalid hostaddr={private_address}",
        False,
        "does not match host name",
        id="name-not-on-the-certificate",
    ),
    pytest.param(
        "client",
        "sslmode=verify-full",
        True,
        'password authentication failed for user "{postgresql_app_role}"',
        id="wrong-password",
    ),
    pytest.param(
        "client",
        "sslmode=verify-full dbname=postgres",
        False,
        'rejects connection for host "{postgresql_clients[0]}", user "{postgresql_app_role}",'
        ' database "postgres"',
        id="other-database",
    ),
    # The database machine's own address: the firewall lets it through, pg_hba.conf does not.
    pytest.param(
        "db",
        "sslmode=verify-full sslrootcert={postgresql_tls_ca_dir}/ca.crt",
        False,
        'pg_hba.conf rejects connection for host "{private_address}"',
        id="unlisted-address",
    ),
]


@pytest.mark.parametrize(("machine", "options", "wrong_password", "refusal"), REFUSALS)
def test_other_ways_in_are_refused(
    host: Any,
    client: Any,
    psql: Psql,
    passwords: dict[str, str],
    role_vars: dict[str, Any],
    machine: str,
    options: str,
    wrong_password: bool,
    refusal: str,
) -> None:
    """Without TLS 1.3, a verified name, the password, a listed address or the database: refused."""
    user = role_vars["postgresql_app_role"]
    result = psql.connect(
        client if machine == "client" else host,
        "SELECT 1",
        user,
        options.format(**role_vars),
        password=passwords[user][::-1] if wrong_password else None,
    )
    assert result.rc != 0
    assert refusal.format(**role_vars) in result.stderr


def test_role_passwords_are_stored_as_scram_hashes(
    host: Any, psql: Psql, role_vars: dict[str, Any]
) -> None:
    """Both roles' passwords are SCRAM-SHA-256 verifiers, never md5 or plain text."""
    stored = psql.local(
        host,
        "SELECT rolpassword FROM pg_authid WHERE rolname IN (:'owner', :'app')",
        owner=role_vars["postgresql_owner_role"],
        app=role_vars["postgresql_app_role"],
    ).splitlines()
    assert len(stored) == 2
    assert all(verifier.startswith("SCRAM-SHA-256$") for verifier in stored)


def test_pg_hba_uses_no_weak_method(host: Any, psql: Psql) -> None:
    """pg_hba.conf loads without errors and knows only peer, scram-sha-256 and reject."""
    methods = psql.local(host, "SELECT DISTINCT auth_method FROM pg_hba_file_rules").split()
    assert set(methods) == {"peer", "scram-sha-256", "reject"}
    assert psql.local(host, "SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL") == "0"


def test_pg_hba_admits_exactly_the_listed_clients(
    host: Any, psql: Psql, role_vars: dict[str, Any]
) -> None:
    """Password logins are TLS-only, to the one database, as its two roles, from each client."""
    admitted = psql.local(
        host,
        "SELECT type, database, user_name, address, netmask FROM pg_hba_file_rules"
        " WHERE auth_method = 'scram-sha-256' ORDER BY line_number",
    ).splitlines()
    database = role_vars["postgresql_database"]
    users = f"{role_vars['postgresql_owner_role']},{role_vars['postgresql_app_role']}"
    assert admitted == [
        f"hostssl|{{{database}}}|{{{users}}}|{client}|255.255.255.255"
        for client in role_vars["postgresql_clients"]
    ]


@pytest.mark.parametrize(
    ("source_variable", "expected"),
    [("private_address", "connected"), ("molecule_unlisted_address", "timeout")],
)
def test_firewall_admits_only_the_listed_clients(
    client: Any, role_vars: dict[str, Any], source_variable: str, expected: str
) -> None:
    """The port answers the listed address; the client's other address is dropped."""
    source = client.ansible.get_variables()[source_variable]
    target = (role_vars["private_address"], str(role_vars["postgresql_port"]))
    outcome = client.check_output(shlex.join(probe_argv("connect_from", source, *target)))
    assert outcome == expected


@pytest.mark.parametrize("role_variable", ["postgresql_owner_role", "postgresql_app_role"])
def test_roles_have_no_administrative_powers(
    host: Any, psql: Psql, role_vars: dict[str, Any], role_variable: str
) -> None:
    """Neither role is a superuser or may create roles or databases, replicate or bypass RLS."""
    powers = psql.local(
        host,
        "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, rolcanlogin"
        " FROM pg_roles WHERE rolname = :'role'",
        role=role_vars[role_variable],
    )
    assert powers == "f|f|f|f|f|t"


def test_app_role_inherits_nothing(host: Any, psql: Psql, role_vars: dict[str, Any]) -> None:
    """The app role cannot use another role's privileges even if it were made a member."""
    inherits = psql.local(
        host,
        "SELECT rolinherit FROM pg_roles WHERE rolname = :'app'",
        app=role_vars["postgresql_app_role"],
    )
    assert inherits == "f"


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE ROLE molecule_intruder",
        "CREATE DATABASE molecule_intruder",
        "CREATE TABLE public.molecule_intruder (i int)",
        "CREATE SCHEMA molecule_intruder",
    ],
)
def test_app_role_cannot_create(
    client: Any, psql: Psql, role_vars: dict[str, Any], statement: str
) -> None:
    """The app role creates no role, database, table or schema."""
    result = psql.connect(client, statement, role_vars["postgresql_app_role"])
    assert result.rc != 0
    assert "permission denied" in result.stderr


def test_app_role_uses_the_owners_tables(notes: list[str]) -> None:
    """The app inserts (identity column included) and reads rows of a table the owner created."""
    assert [row.split(":", 1)[1] for row in notes[-2:]] == ["first note", "second note, ü"]


def test_public_cannot_connect(host: Any, psql: Psql, role_vars: dict[str, Any]) -> None:
    """PUBLIC holds no privilege on the database; the app holds CONNECT."""
    privileges = psql.local(
        host,
        "SELECT (SELECT count(*) FROM aclexplode(datacl) WHERE grantee = 0),"
        " has_database_privilege(:'app', datname, 'CONNECT')"
        " FROM pg_database WHERE datname = current_database()",
        app=role_vars["postgresql_app_role"],
    )
    assert privileges == "0|t"


def test_connections_are_logged_without_secrets(
    host: Any, client: Any, psql: Psql, passwords: dict[str, str], role_vars: dict[str, Any]
) -> None:
    """The server log names who connected, and holds none of the passwords Ansible set."""
    psql.connect(client, "SELECT 1", role_vars["postgresql_app_role"])
    log = host.check_output("cat /var/log/postgresql/*.log")
    assert f"connection authorized: user={role_vars['postgresql_app_role']}" in log
    assert not [password for password in passwords.values() if password in log]


@pytest.mark.parametrize(
    ("prop", "value"),
    [
        ("Type", "oneshot"),
        ("User", "postgres"),
        ("ProtectSystem", "strict"),
        ("NoNewPrivileges", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateNetwork", "yes"),
        ("CapabilityBoundingSet", ""),
    ],
)
def test_backup_service_is_hardened(host: Any, prop: str, value: str) -> None:
    """The backup runs as postgres with a read-only system, no network and no capabilities."""
    shown = host.check_output("systemctl show -P %s postgresql-backup.service", prop)
    assert shown == value


def test_backup_service_writes_only_the_backup_dir(host: Any, role_vars: dict[str, Any]) -> None:
    """The one writable path of the backup is the backup directory."""
    shown = host.check_output("systemctl show -P ReadWritePaths postgresql-backup.service")
    assert shown == role_vars["postgresql_backup_dir"]


def test_backup_timer_follows_the_schedule(host: Any, role_vars: dict[str, Any]) -> None:
    """The timer is on, at postgresql_backup_on_calendar, and makes up missed runs."""
    timer = host.service("postgresql-backup.timer")
    assert timer.is_enabled and timer.is_running
    normalized = host.check_output(
        "systemd-analyze calendar %s | sed -n 's/^ *Normalized form: //p'",
        role_vars["postgresql_backup_on_calendar"],
    )
    assert f"OnCalendar={normalized} " in host.check_output(
        "systemctl show -P TimersCalendar postgresql-backup.timer"
    )
    assert host.check_output("systemctl show -P Persistent postgresql-backup.timer") == "yes"


@pytest.fixture(scope="module")
def backups(host: Any, role_vars: dict[str, Any], notes: list[str]) -> dict[str, list[str]]:
    """Runs the backup service keep + 2 times, a second apart (dumps are named to the second)."""
    written = []
    for _ in range(role_vars["postgresql_backup_keep"] + 2):
        host.check_output("sleep 1 && systemctl start postgresql-backup.service")
        run = host.check_output("systemctl show -P InvocationID postgresql-backup.service")
        log = host.check_output("journalctl -q -o cat _SYSTEMD_INVOCATION_ID=%s", run)
        written += [line.split()[-1] for line in log.splitlines() if line.startswith("wrote ")]
    directory = role_vars["postgresql_backup_dir"]
    kept = host.check_output("ls -A %s", directory).split()
    return {"written": written, "kept": [f"{directory}/{name}" for name in kept]}


def test_backup_retention_keeps_the_newest(
    backups: dict[str, list[str]], role_vars: dict[str, Any]
) -> None:
    """After keep + 2 runs exactly the newest keep dumps are left, and nothing else."""
    keep = role_vars["postgresql_backup_keep"]
    assert len(backups["written"]) == keep + 2
    assert backups["kept"] == sorted(backups["written"])[-keep:]


def test_dumps_are_private_to_postgres(
    host: Any, backups: dict[str, list[str]], role_vars: dict[str, Any]
) -> None:
    """The directory is 0700 and every dump 0600, both owned by postgres."""
    directory = host.file(role_vars["postgresql_backup_dir"])
    assert (directory.user, directory.mode) == ("postgres", 0o700)
    for path in backups["kept"]:
        dump = host.file(path)
        assert (dump.user, dump.group, dump.mode) == ("postgres", "postgres", 0o600), path


@pytest.fixture(scope="module")
def restored(host: Any, backups: dict[str, list[str]], role_vars: dict[str, Any]) -> str:
    """The newest dump restored into a new database by the role's restore command."""
    database = "molecule_restored"
    host.run(
        "runuser -u postgres -- dropdb -p %s --if-exists %s",
        str(role_vars["postgresql_port"]),
        database,
    )
    result = host.run(
        "%s %s %s", role_vars["__postgresql_restore_command"], backups["kept"][-1], database
    )
    assert result.rc == 0, result.stderr
    return database


def test_restore_reads_back_the_same_rows(
    host: Any, psql: Psql, notes: list[str], restored: str
) -> None:
    """The restored database holds the rows the app wrote before the dump."""
    rows = psql.local(host, "SELECT id || ':' || body FROM molecule_notes ORDER BY id", restored)
    assert rows.splitlines() == notes


def test_restored_database_keeps_owner_and_grants(
    host: Any, psql: Psql, role_vars: dict[str, Any], restored: str
) -> None:
    """Owned by the owner role, CONNECT for the app only, and the app's rights on the tables."""
    owner, app = role_vars["postgresql_owner_role"], role_vars["postgresql_app_role"]
    database = psql.local(
        host,
        "SELECT pg_get_userbyid(datdba), has_database_privilege(:'app', datname, 'CONNECT'),"
        " (SELECT count(*) FROM aclexplode(datacl) WHERE grantee = 0)"
        " FROM pg_database WHERE datname = current_database()",
        restored,
        app=app,
    )
    assert database == f"{owner}|t|0"
    tables = psql.local(
        host,
        "SELECT has_table_privilege(:'app', 'molecule_notes', 'SELECT, INSERT, UPDATE, DELETE'),"
        " has_table_privilege(:'app', 'molecule_notes', 'TRUNCATE')",
        restored,
        app=app,
    )
    assert tables == "t|f"


def test_restore_refuses_an_existing_database(
    host: Any,
    psql: Psql,
    role_vars: dict[str, Any],
    backups: dict[str, list[str]],
    notes: list[str],
) -> None:
    """Restoring onto a name that exists fails with a message and leaves that database alone."""
    result = host.run(
        "%s %s %s",
        role_vars["__postgresql_restore_command"],
        backups["kept"][-1],
        role_vars["postgresql_database"],
    )
    assert result.rc == 1
    assert f"the database {role_vars['postgresql_database']} exists" in result.stderr
    assert psql.local(host, "SELECT count(*) FROM molecule_notes") == str(len(notes))


def test_failed_restore_leaves_no_database(
    host: Any, psql: Psql, role_vars: dict[str, Any]
) -> None:
    """A restore that fails halfway exits non-zero and drops the database it created."""
    host.check_output("bash -c %s", _BROKEN_DUMP.format(port=role_vars["postgresql_port"]))
    result = host.run(
        "%s /tmp/broken.dump molecule_half", role_vars["__postgresql_restore_command"]
    )
    assert result.rc != 0
    assert "the new database molecule_half was dropped" in result.stderr
    assert (
        psql.local(
            host, "SELECT count(*) FROM pg_database WHERE datname = 'molecule_half'", "postgres"
        )
        == "0"
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        pytest.param("/etc/hostname molecule_garbage", "is not a dump", id="not-a-dump"),
        pytest.param("/nonexistent.dump molecule_missing", "no such dump", id="missing-dump"),
        pytest.param("/etc/hostname Bad-Name", "NEWDB must be", id="bad-name"),
        pytest.param("/etc/hostname", "usage:", id="one-argument"),
    ],
)
def test_restore_explains_bad_input(
    host: Any, role_vars: dict[str, Any], arguments: str, message: str
) -> None:
    """Wrong arguments get exit code 1 and a message, before anything is created."""
    result = host.run(f"{role_vars['__postgresql_restore_command']} {arguments}")
    assert result.rc == 1
    assert message in result.stderr
