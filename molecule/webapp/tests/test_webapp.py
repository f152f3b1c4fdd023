"""The webapp role: a healthy, hardened container that serves the app, its users and its port."""

import json
import os
import shlex
import urllib.parse
from pathlib import Path

import pytest

from deploykit.ssh import probe_argv

testinfra_hosts = ["instance-webapp"]

SECURITY_HEADERS = [
    "Content-Security-Policy",
    "X-Content-Type-Options",
    "Referrer-Policy",
    "X-Frame-Options",
]


def login(fetch, role_vars, origin: str, password: str) -> dict:
    """POST the login form as a browser on the load balancer's origin would."""
    user = role_vars["webapp_initial_users"][0]
    form = urllib.parse.urlencode({"username": user["username"], "password": password})
    headers = {"Origin": origin, "Content-Type": "application/x-www-form-urlencoded"}
    return fetch("/login", method="POST", body=form, headers=headers)


def test_container_is_running(container):
    """The container is up."""
    assert container["State"]["Running"]


def test_container_is_healthy(container):
    """The image's health check (/healthz) passes."""
    assert container["State"]["Health"]["Status"] == "healthy"


def test_restart_policy(container, role_vars):
    """Docker brings the container back after a crash or a reboot."""
    assert container["HostConfig"]["RestartPolicy"]["Name"] == role_vars["webapp_restart_policy"]


def test_host_networking(container):
    """The container shares the machine's network, so nftables input rules govern its port."""
    assert container["HostConfig"]["NetworkMode"] == "host"


def test_root_filesystem_read_only(container):
    """Nothing in the container can change the image's files."""
    assert container["HostConfig"]["ReadonlyRootfs"]


def test_all_capabilities_dropped(container):
    """The container holds no Linux capability."""
    assert container["HostConfig"]["CapDrop"] == ["ALL"] and not container["HostConfig"]["CapAdd"]


def test_no_new_privileges(container):
    """No process in the container can gain privileges through setuid binaries."""
    assert "no-new-privileges" in container["HostConfig"]["SecurityOpt"]


def test_no_process_runs_as_root(host, role_vars):
    """Apache and the app run as the image's unprivileged user, master process included."""
    table = host.check_output(f"docker top {role_vars['webapp_container_name']} -eo pid,uid")
    uids = {line.split()[1] for line in table.splitlines()[1:]}
    assert uids and "0" not in uids


def test_healthz_answers(fetch):
    """/healthz answers 200 on the configured port."""
    assert fetch("/healthz")["status"] == 200


@pytest.mark.parametrize("header", SECURITY_HEADERS)
def test_security_header_present(fetch, header):
    """Responses carry the app's security headers through Apache."""
    assert header in fetch("/healthz")["headers"]


def test_settings_reach_the_app(fetch, role_vars):
    """The app names the machine it runs on as the settings file says (WEBUI_NODE_NAME)."""
    assert fetch("/healthz")["headers"]["X-Served-By"] == role_vars["inventory_hostname"]


def scenario_secret(name: str) -> str:
    """A throwaway password molecule.yml generated into the scenario's ephemeral directory."""
    return (Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / name).read_text().strip()


def host_address(host) -> str:
    """The instance's own address, where the database listens (its private_address)."""
    return host.ansible("setup", "filter=ansible_default_ipv4")["ansible_facts"][
        "ansible_default_ipv4"
    ]["address"]


def settings_file(host, role_vars) -> dict[str, str]:
    """The settings file the role wrote, as the app reads it."""
    path = f"{role_vars['webapp_config_dir']}/{role_vars['__webapp_settings_file']}"
    lines = host.file(path).content_string.splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def gateway_url(machine: dict) -> str:
    """The gateway URL of a stand-in LLM machine; an IPv6 address goes in brackets."""
    address = machine["address"]
    return f"https://{f'[{address}]' if ':' in address else address}:{machine['port']}"


def test_settings_name_every_llm_gateway(host, role_vars, llm_machines):
    """WEBUI_OLLAMA_URL lists each llm host's gateway in order, on its own port."""
    expected = [gateway_url(machine) for machine in llm_machines]
    assert len(expected) >= 2
    assert settings_file(host, role_vars)["WEBUI_OLLAMA_URL"].split(" ") == expected


def test_ca_bundle_holds_every_gateway_ca(host, role_vars, llm_machines):
    """The CA bundle holds each llm host's gateway CA, and Python's ssl loads every one."""
    path = f"{role_vars['webapp_config_dir']}/{role_vars['__webapp_ca_file']}"
    mounted = f"{role_vars['__webapp_container_config_dir']}/{role_vars['__webapp_ca_file']}"
    assert settings_file(host, role_vars)["WEBUI_OLLAMA_CA_BUNDLE"] == mounted
    bundle = host.file(path).content_string
    assert all(m["ca_pem"].strip() in bundle for m in llm_machines)
    loaded = host.check_output(shlex.join(probe_argv("ca_count", path)))
    assert int(loaded) == len(llm_machines)


def test_login_with_provisioned_user(fetch, role_vars, app_origin):
    """The initial user, created in PostgreSQL, logs in: the app reaches it over verified TLS."""
    password = role_vars["webapp_initial_users"][0]["password"]
    response = login(fetch, role_vars, app_origin, password)
    cookie = response["headers"].get("Set-Cookie", "")
    assert response["status"] == 303 and cookie.startswith("__Host-webui_session=")


def test_login_with_wrong_password_refused(fetch, role_vars, app_origin):
    """A wrong password is refused, so the previous test proves the provisioned password."""
    assert login(fetch, role_vars, app_origin, "not-the-password")["status"] == 401


def test_port_refuses_plain_http(host, role_vars):
    """The port speaks TLS only: a plain HTTP request gets no answer from the app."""
    url = f"http://127.0.0.1:{role_vars['webapp_port']}/healthz"
    answer = host.check_output(shlex.join(probe_argv("https_fetch", "GET", url, "", "{}", "")))
    assert json.loads(answer)["status"] != 200


def test_tls_keys_are_private(host, role_vars, container, app_server_tls_dir):
    """The CA key is root's alone and never mounted; the server key is the container group's."""
    ca_key = host.file(f"{role_vars['webapp_tls_ca_dir']}/ca.key")
    assert (ca_key.user, ca_key.mode) == ("root", 0o600)
    server_key = host.file(f"{app_server_tls_dir}/server.key")
    gid = int(container["Config"]["User"].split(":")[1])
    assert (server_key.user, server_key.gid, server_key.mode) == ("root", gid, 0o640)
    mounts = " ".join(m["Source"] for m in container["Mounts"])
    assert role_vars["webapp_tls_ca_dir"] not in mounts


def test_settings_file_is_private(host, role_vars, container):
    """The settings file (secrets) is root's, readable by the container's group only."""
    settings = host.file(f"{role_vars['webapp_config_dir']}/{role_vars['__webapp_settings_file']}")
    gid = int(container["Config"]["User"].split(":")[1])
    assert (settings.uid, settings.gid, settings.mode) == (0, gid, 0o640)


@pytest.mark.parametrize("secret", ["database-app-password", "database-owner-password"])
def test_database_password_not_in_container_config(host, role_vars, secret):
    """Neither database password shows in `docker inspect` (environment, command or labels)."""
    inspect = host.check_output(f"docker inspect {role_vars['webapp_container_name']}")
    assert scenario_secret(secret) not in inspect


def test_gateway_password_not_in_container_config(host, role_vars):
    """The gateway password does not show in `docker inspect` either."""
    inspect = host.check_output(f"docker inspect {role_vars['webapp_container_name']}")
    assert role_vars["webapp_ollama_password"] not in inspect


def test_owner_password_is_nowhere_on_the_machine(host, role_vars):
    """The owner's password reached the one-off migration on stdin only: no file holds it, and
    no container is left over from the migration."""
    owner_password = scenario_secret("database-owner-password")
    found = host.run("grep -rlF -- %s /etc /var/lib/docker/containers", owner_password)
    assert found.rc == 1, f"the owner's password is in {found.stdout}"
    names = host.check_output("docker ps --all --format '{{.Names}}'").split()
    assert names == [role_vars["webapp_container_name"]]


def test_settings_name_the_database_with_verified_tls(host, role_vars):
    """WEBUI_DATABASE_URL names the app's role on the server, verify-full against the db's CA."""
    url = settings_file(host, role_vars)["WEBUI_DATABASE_URL"]
    ca = f"{role_vars['__webapp_container_config_dir']}/{role_vars['__webapp_database_ca_file']}"
    expected = (
        f"postgresql://{role_vars['webapp_database_user']}@{host_address(host)}:"
        f"{role_vars['webapp_database_port']}/{role_vars['webapp_database_name']}"
        f"?sslmode=verify-full&sslrootcert={ca}"
    )
    assert url == expected


def test_schema_is_the_images_and_owned_by_the_owner(host, role_vars):
    """The migration ran (the schema is at the image's version) as the tables' owner."""
    database = role_vars["webapp_database_name"]
    container = role_vars["webapp_container_name"]
    image_version = host.check_output(
        "docker exec %s python -c %s",
        container,
        "from webui.store import SCHEMA_VERSION; print(SCHEMA_VERSION)",
    )
    psql = f"cd / && runuser -u postgres -- psql -XAtq -d {database} -c"
    version = host.check_output(f"{psql} %s", "SELECT max(version) FROM schema_version")
    owners = host.check_output(
        f"{psql} %s", "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'"
    )
    assert version == image_version
    assert owners.split() == [role_vars["webapp_database_owner_user"]]


def test_mod_deflate_not_loaded(host, role_vars):
    """Apache does not compress, so nothing holds back streamed lines to fill a buffer."""
    modules = host.check_output(f"docker exec {role_vars['webapp_container_name']} apache2 -M")
    assert "wsgi_module" in modules and "deflate_module" not in modules


def test_firewall_admits_only_allowed_sources(host, role_vars):
    """The input chain accepts the web app port from the configured sources and nothing else."""
    listing = json.loads(host.check_output("nft -j list chain inet filter input"))["nftables"]
    sources = set()
    for item in listing:
        rule = item.get("rule")
        if not rule or f'"right": {role_vars["webapp_port"]}' not in json.dumps(rule["expr"]):
            continue
        for match in rule["expr"]:
            if match.get("match", {}).get("left", {}).get("payload", {}).get("field") == "saddr":
                right = match["match"]["right"]
                sources.update(right["set"] if isinstance(right, dict) else [right])
    assert sources == set(role_vars["webapp_allowed_sources"])
