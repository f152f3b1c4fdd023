"""The database machine: PostgreSQL on the private network only, TLS and scram required, only the
web machines admitted, an app role that can change rows and nothing else, backups on a timer."""

import json
import shlex

import pytest
import testinfra
from conftest import address, hosts, inventory, machine, running_and_enabled, var

testinfra_hosts = hosts("db")

DB = inventory().hosts("db")[0]
WEBS = inventory().hosts("web")
# The cluster's own unit: postgresql.service only starts it and stays "active" when it fails.
CLUSTER_UNIT = var(DB, "__postgresql_service")

# Runs in the app's container on a web machine with its own settings (URL and password), connects
# with the given sslmode and prints, as JSON, why the server refused it, or what it says of the
# session ("session"), or what it answers to creating a table ("create"; always rolled back).
APP_PROBE = r"""
import json, os, sys
import psycopg
from webui.settings import raw_settings
settings = raw_settings(os.environ)
mode, action = sys.argv[1:3]
try:
    connection = psycopg.connect(
        settings["WEBUI_DATABASE_URL"],
        password=settings["WEBUI_DATABASE_PASSWORD"],
        sslmode=mode,
        connect_timeout=10,
    )
except psycopg.OperationalError as error:
    print(json.dumps({"refused": str(error)}))
    sys.exit()
with connection:
    try:
        if action == "session":
            row = connection.execute(
                "SELECT current_user, ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
            ).fetchone()
            print(json.dumps({"user": row[0], "ssl": row[1], "tls": row[2]}))
        else:
            connection.execute("CREATE TABLE infra_probe (id integer)")
            print(json.dumps({"created": True}))
    except psycopg.Error as error:
        print(json.dumps({"sqlstate": error.sqlstate}))
    finally:
        connection.rollback()
"""


def _setting(name: str):
    return var(DB, name)


def _sql(host, query: str, database: str = "postgres") -> list[list[str]]:
    """Rows of a query run as PostgreSQL's superuser over its local socket (peer authentication)."""
    out = host.check_output(
        f"cd / && runuser -u postgres -- psql -XAtq -d {database} -c {shlex.quote(query)}"
    )
    return [line.split("|") for line in out.splitlines()]


def _from_app(web: str, sslmode: str, action: str = "session") -> dict:
    """APP_PROBE's answer, run in the app's container on a web machine."""
    container = var(web, "webapp_container_name")
    argv = ("docker", "exec", container, "python", "-c", APP_PROBE, sslmode, action)
    return json.loads(testinfra.get_host(machine(web)).check_output(shlex.join(argv)))


@pytest.mark.parametrize("unit", [CLUSTER_UNIT, "postgresql-backup.timer"])
def test_unit_running_and_enabled(host, unit):
    """PostgreSQL serves and the backup timer is armed, now and after a reboot."""
    assert running_and_enabled(host, unit) == (True, True)


def test_listens_on_the_private_address_only(host):
    """PostgreSQL's port is open on the machine's private address and nowhere else."""
    port = _setting("postgresql_port")
    listening = {s for s in host.socket.get_listening_sockets() if s.endswith(f":{port}")}
    assert listening == {f"tcp://{address(DB)}:{port}"}


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("ssl", "on"),
        ("password_encryption", "scram-sha-256"),
        ("ssl_min_protocol_version", "TLSv1.3"),
    ],
)
def test_server_setting(host, setting, expected):
    """TLS is on, for TLS 1.3 only, and passwords are stored as scram verifiers."""
    assert _sql(host, f"SHOW {setting}") == [[expected]]


def test_stored_passwords_are_scram(host):
    """Every role with a password holds a scram-sha-256 verifier, never md5 or plain text."""
    rows = _sql(
        host, "SELECT rolname, left(rolpassword, 14) FROM pg_authid WHERE rolpassword IS NOT NULL"
    )
    assert rows and all(prefix == "SCRAM-SHA-256$" for _, prefix in rows), rows


def _hba_rules(host) -> list[dict]:
    query = (
        "SELECT json_agg(json_build_object('type', type, 'database', database, 'users', user_name,"
        " 'address', address, 'netmask', netmask, 'method', auth_method, 'error', error)"
        " ORDER BY line_number) FROM pg_hba_file_rules"
    )
    return json.loads(_sql(host, query)[0][0])


def test_hba_admits_only_the_web_machines_over_tls_with_scram(host):
    """Network lines are hostssl + scram for exactly the web machines' addresses, or reject."""
    rules = _hba_rules(host)
    assert not [r for r in rules if r["error"]], rules
    network = [r for r in rules if r["type"] != "local" and r["method"] != "reject"]
    for rule in network:
        assert (rule["type"], rule["method"]) == ("hostssl", "scram-sha-256"), rule
        assert rule["database"] == [_setting("postgresql_database")], rule
        assert rule["netmask"] in ("255.255.255.255", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
    assert {r["address"] for r in network} == {address(web) for web in WEBS}


def test_hba_local_lines_use_peer_or_reject(host):
    """On the machine itself only the operating system user is trusted (peer), no password."""
    local = [r for r in _hba_rules(host) if r["type"] == "local"]
    assert local and all(r["method"] in ("peer", "reject") for r in local), local


@pytest.mark.parametrize("web", WEBS)
def test_web_machine_without_tls_is_refused(web):
    """The app's own credentials without TLS get no session: pg_hba has no line for them."""
    result = _from_app(web, "disable")
    assert "pg_hba.conf" in result.get("refused", ""), result


@pytest.mark.parametrize("web", WEBS)
def test_web_machine_with_verified_tls_connects(web):
    """With sslmode=verify-full (the server's certificate and address checked) the app gets in."""
    result = _from_app(web, "verify-full")
    assert result == {
        "user": _setting("postgresql_app_role"),
        "ssl": True,
        "tls": "TLSv1.3",
    }


@pytest.mark.parametrize("role_var", ["postgresql_app_role", "postgresql_owner_role"])
def test_role_cannot_create_roles_or_databases(host, role_var):
    """Neither the app's role nor the tables' owner is a superuser or may create roles or dbs."""
    rights = {
        name: flags
        for name, *flags in _sql(
            host, "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles"
        )
    }
    assert rights[_setting(role_var)] == ["f", "f", "f"]


def test_app_role_cannot_create_tables():
    """The app changes rows only: creating a table is refused (SQLSTATE 42501)."""
    assert _from_app(WEBS[0], "verify-full", "create") == {"sqlstate": "42501"}


def test_backup_directory_is_private(host):
    """Dumps hold password hashes and conversations: only the postgres user reads them."""
    backups = host.file(_setting("postgresql_backup_dir"))
    assert backups.is_directory
    assert (backups.user, backups.mode) == ("postgres", 0o700)
