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
    running, enabled = running_and_enabled(host, unit)
    assert running, f"{unit} is not running"
    assert enabled, f"{unit} is not enabled: it will not start after a reboot"


def test_listens_on_the_private_address_only(host):
    """PostgreSQL's port is open on the machine's private address and nowhere else."""
    port = _setting("postgresql_port")
    listening = {s for s in host.socket.get_listening_sockets() if s.endswith(f":{port}")}
    expected = {f"tcp://{address(DB)}:{port}"}
    assert listening == expected, f"PostgreSQL listens on {sorted(listening)}, want {expected}"


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
    value = _sql(host, f"SHOW {setting}")
    assert value == [[expected]], f"PostgreSQL's {setting} is {value}, want {expected}"


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
        kind = (rule["type"], rule["method"])
        assert kind == ("hostssl", "scram-sha-256"), f"pg_hba admits {kind}, not TLS+scram: {rule}"
        database = [_setting("postgresql_database")]
        assert rule["database"] == database, f"pg_hba admits to more than {database}: {rule}"
        single = ("255.255.255.255", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
        assert rule["netmask"] in single, f"pg_hba admits a network, not one address: {rule}"
    admitted, webs = {r["address"] for r in network}, {address(web) for web in WEBS}
    assert admitted == webs, f"pg_hba admits {sorted(admitted)}, want the web machines {webs}"


def test_hba_local_lines_use_peer_or_reject(host):
    """On the machine itself only the operating system user is trusted (peer), no password."""
    local = [r for r in _hba_rules(host) if r["type"] == "local"]
    assert local and all(r["method"] in ("peer", "reject") for r in local), local


@pytest.mark.parametrize("web", WEBS)
def test_web_machine_without_tls_is_refused(web):
    """The app's own credentials without TLS get no session: pg_hba has no line for them."""
    result = _from_app(web, "disable")
    assert "pg_hba.conf" in result.get("refused", ""), f"{web} got in without TLS: {result}"


@pytest.mark.parametrize("web", WEBS)
def test_web_machine_with_verified_tls_connects(web):
    """With sslmode=verify-full (the server's certificate and address checked) the app gets in."""
    result = _from_app(web, "verify-full")
    expected = {"user": _setting("postgresql_app_role"), "ssl": True, "tls": "TLSv1.3"}
    assert result == expected, f"{web} with sslmode=verify-full: {result}"


@pytest.mark.parametrize("role_var", ["postgresql_app_role", "postgresql_owner_role"])
def test_role_cannot_create_roles_or_databases(host, role_var):
    """Neither the app's role nor the tables' owner is a superuser or may create roles or dbs."""
    rights = {
        name: flags
        for name, *flags in _sql(
            host, "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles"
        )
    }
    role = _setting(role_var)
    flags = dict(zip(("superuser", "createrole", "createdb"), rights[role], strict=True))
    granted = [name for name, flag in flags.items() if flag != "f"]
    assert not granted, f"the role {role} has {granted}"


def test_app_role_cannot_create_tables():
    """The app changes rows only: creating a table is refused (SQLSTATE 42501)."""
    result = _from_app(WEBS[0], "verify-full", "create")
    assert result == {"sqlstate": "42501"}, f"the app's CREATE TABLE was not refused: {result}"


def test_backup_directory_is_private(host):
    """Dumps hold password hashes and conversations: only the postgres user reads them."""
    backups = host.file(_setting("postgresql_backup_dir"))
    assert backups.is_directory
    got = (backups.user, backups.mode)
    assert got == ("postgres", 0o700), (
        f"{backups.path} is {got[0]} {got[1]:04o}, want postgres 0700"
    )


def test_backups_keep_the_configured_number(host):
    """The backup command deletes all but the newest postgresql_backup_keep dumps."""
    script = host.file(var(DB, "__postgresql_backup_command")).content_string
    keep = [line for line in script.splitlines() if line.startswith("keep=")]
    expected = f"keep={_setting('postgresql_backup_keep')}"
    assert keep == [expected], f"the backup command has {keep}, want {expected}"


def test_backup_timer_fires_on_its_calendar(host):
    """The timer's schedule is postgresql_backup_on_calendar, compared in systemd's own form."""
    calendar = _setting("postgresql_backup_on_calendar")
    analysis = host.check_output(f"systemd-analyze calendar {shlex.quote(calendar)}")
    normalized = next(line for line in analysis.splitlines() if "Normalized form:" in line)
    wanted = f"OnCalendar={normalized.split(':', 1)[1].strip()} ;"
    timer = host.check_output("systemctl show -P TimersCalendar postgresql-backup.timer")
    assert wanted in timer, f"the backup timer has {timer}, want {calendar} ({wanted})"


def test_tls_keys_are_private(host):
    """The CA key is root's alone in a root-only directory; the server key is postgres' group's."""
    ca_dir, tls_dir = _setting("postgresql_tls_ca_dir"), _setting("postgresql_tls_dir")
    expected = {
        ca_dir: ("root", "root", 0o700),
        f"{ca_dir}/ca.key": ("root", "root", 0o600),
        tls_dir: ("root", "postgres", 0o750),
        f"{tls_dir}/server.key": ("root", "postgres", 0o640),
    }
    for path, (user, group, mode) in expected.items():
        found = host.file(path)
        got = (found.user, found.group, found.mode)
        assert got == (user, group, mode), (
            f"{path} is {got[0]}:{got[1]} {got[2]:04o}, want {user}:{group} {mode:04o}"
        )
