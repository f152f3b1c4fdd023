"""Web machines: the app container under Docker, healthy, with private settings."""

import json
import posixpath
import shlex
from urllib.parse import urlsplit

import pytest
from conftest import hosts, probe, running_and_enabled, var

testinfra_hosts = hosts("web")

# The files private_tls writes (its README): in its CA directory and in its server directory.
PRIVATE_TLS_FILES = {
    "ca_cert": ("ca", "ca.crt"),
    "ca_key": ("ca", "ca.key"),
    "server_key": ("server", "server.key"),
}


def test_docker_running_and_enabled(host):
    """The Docker engine runs and starts at boot."""
    assert running_and_enabled(host, "docker") == (True, True)


def _inspect(host, container: str, field: str):
    """One field of `docker inspect`, as JSON."""
    return json.loads(
        host.check_output(f"docker inspect --format '{{{{json {field}}}}}' {container}")
    )


def test_docker_daemon_configuration_is_the_roles(host, hostname):
    """daemon.json holds the docker role's options and no other: live restore, rotated logs and
    no-new-privileges for every container."""
    expected = {
        "live-restore": var(hostname, "docker_live_restore"),
        "log-driver": "json-file",
        "log-opts": {
            "max-size": var(hostname, "docker_log_max_size"),
            "max-file": str(var(hostname, "docker_log_max_file")),
        },
        "no-new-privileges": var(hostname, "docker_no_new_privileges"),
    }
    # Set too, but by the kind of machine (a container "VM" needs others), not by the suite.
    per_machine = {"storage-driver", "userland-proxy"}
    found = json.loads(host.file("/etc/docker/daemon.json").content_string)
    wrong = [
        f"{key} is {found.get(key, '(absent)')!r}, want {value!r}"
        for key, value in expected.items()
        if found.get(key) != value
    ]
    wrong += [
        f"{key} is set to {found[key]!r}"
        for key in sorted(set(found) - set(expected) - per_machine)
    ]
    assert not wrong, f"{hostname}: /etc/docker/daemon.json: " + "; ".join(wrong)


def test_docker_daemon_runs_with_the_roles_options(host, hostname):
    """The running dockerd uses the role's options (those `docker info` shows), whatever the file
    said when it started."""
    info = json.loads(host.check_output("docker info --format '{{json .}}'"))
    live_restore = var(hostname, "docker_live_restore")
    assert info["LiveRestoreEnabled"] == live_restore, (
        f"{hostname}: dockerd runs with live-restore {info['LiveRestoreEnabled']}, want "
        f"{live_restore}: a Docker restart would stop the app"
    )
    assert info["LoggingDriver"] == "json-file", (
        f"{hostname}: dockerd logs to {info['LoggingDriver']}"
    )


def test_app_container_is_healthy(host, hostname):
    """The app's container runs and its health check passes."""
    name = var(hostname, "webapp_container_name")
    state = _inspect(host, name, ".State")
    assert state["Running"]
    assert state["Health"]["Status"] == "healthy"


def test_app_container_restarts_by_itself(host, hostname):
    """A crashed or rebooted container comes back without an operator."""
    name = var(hostname, "webapp_container_name")
    policy = _inspect(host, name, ".HostConfig.RestartPolicy.Name")
    assert policy in ("always", "unless-stopped"), (
        f"{hostname}: container {name} has restart policy {policy!r}: it stays down after a crash"
    )


def test_app_container_is_hardened(host, hostname):
    """The container runs as the webapp role made it: read-only, no capability, no privilege
    gain, a process limit, its configuration mounted read-only, rotated logs."""
    name = var(hostname, "webapp_container_name")
    config = _inspect(host, name, ".HostConfig")
    mounts = {m["Destination"]: m["RW"] for m in _inspect(host, name, ".Mounts")}
    config_dir = var(hostname, "__webapp_container_config_dir")
    found = {
        "read-only root": config["ReadonlyRootfs"],
        "capabilities dropped": config["CapDrop"],
        "capabilities added": config["CapAdd"],
        "privileged": config["Privileged"],
        "no-new-privileges": "no-new-privileges" in (config["SecurityOpt"] or []),
        "pids limit": config["PidsLimit"],
        "network": config["NetworkMode"],
        f"{config_dir} writable": mounts.get(config_dir),
        "log driver": config["LogConfig"]["Type"],
    }
    expected = {
        "read-only root": True,
        "capabilities dropped": ["ALL"],
        "capabilities added": None,
        "privileged": False,
        "no-new-privileges": True,
        "pids limit": int(var(hostname, "webapp_pids_limit")),
        "network": "host",
        f"{config_dir} writable": False,
        "log driver": "json-file",
    }
    wrong = {key: value for key, value in found.items() if value != expected[key]}
    assert not wrong, f"{hostname}: container {name} runs with {wrong}, want " + str(
        {key: expected[key] for key in wrong}
    )


def test_app_listens_on_its_port(host, hostname):
    """Apache in the container answers on the app port (host networking)."""
    port = var(hostname, "webapp_port")
    assert host.socket(f"tcp://0.0.0.0:{port}").is_listening


def _app_tls_paths(hostname):
    """The web machine's CA certificate and key, and its server key, as private_tls places them."""
    folders = {
        "ca": var(hostname, "webapp_tls_ca_dir"),
        "server": posixpath.join(
            var(hostname, "webapp_config_dir"), var(hostname, "__webapp_tls_dir")
        ),
    }
    return {
        name: posixpath.join(folders[where], file)
        for name, (where, file) in PRIVATE_TLS_FILES.items()
    }


def test_app_port_speaks_tls_verified_by_the_machines_ca(host, hostname):
    """The app answers over TLS with a certificate of this machine's CA, and never in plain HTTP."""
    port = var(hostname, "webapp_port")
    ca = _app_tls_paths(hostname)["ca_cert"]

    def status(url: str, ca_file: str) -> int:
        return json.loads(probe(host, "https_fetch", "GET", url, "", "{}", ca_file))["status"]

    assert status(f"https://127.0.0.1:{port}/healthz", ca) == 200
    plain = status(f"http://127.0.0.1:{port}/healthz", "")
    assert plain != 200, "the app's port answered plain HTTP"


def _private(host, hostname: str, path: str, others: int) -> None:
    """``path`` exists, belongs to root and grants none of the ``others`` permission bits."""
    found = host.file(path)
    assert found.exists, f"{hostname}: {path} is missing"
    assert found.user == "root", f"{hostname}: {path} belongs to {found.user}, not root"
    assert found.mode & others == 0, (
        f"{hostname}: {path} is mode {found.mode:04o}: readable beyond "
        + ("root" if others == 0o077 else "root and the container's group")
    )


def test_app_tls_keys_are_private(host, hostname):
    """The CA key is root's alone; the server key is readable by the container's group, no other."""
    paths = _app_tls_paths(hostname)
    _private(host, hostname, paths["ca_key"], 0o077)
    _private(host, hostname, paths["server_key"], 0o007)


def test_settings_file_is_private(host, hostname):
    """The settings file holding the app's secrets is not readable by other users."""
    config_dir = var(hostname, "webapp_config_dir")
    _private(host, hostname, f"{config_dir}/{var(hostname, '__webapp_settings_file')}", 0o007)


# Runs in the app's container: each setting as the app reads it, with the image's default.
# Secrets (not in repr) are left out, so that no failure prints one.
SETTINGS_PROBE = """
import dataclasses, json
from webui.settings import Settings, load_settings
found = load_settings()
print(json.dumps({
    f.name: [getattr(found, f.name), f.default]
    for f in dataclasses.fields(Settings) if f.repr and f.default is not dataclasses.MISSING
}))
"""
# Built from other machines' facts, which only a play resolves: the default model (the LLM
# machines' lists; the e2e suite asks it) and the database URL (test_db.py checks its TLS).
UNGUARDED_SETTINGS = {"default_model", "database_url"}


def _as_setting(default, text: str):
    """A settings-file value as the type of the setting's default."""
    if isinstance(default, bool):
        return text.strip().lower() in ("1", "true", "yes", "on")
    return type(default)(text)


def test_app_settings_are_the_roles(host, hostname):
    """Every setting the app runs with is what the webapp role gives it, or the image's default
    where the role gives none: no limit, throttle or session lifetime loosened by hand."""
    name = var(hostname, "webapp_container_name")
    argv = ("docker", "exec", name, "python", "-c", SETTINGS_PROBE)
    settings = json.loads(host.check_output(shlex.join(argv)))
    config_dir = var(hostname, "__webapp_container_config_dir")
    # The bundle is written from the LLM machines' facts, which only a play knows: its file says.
    ca_file = var(hostname, "__webapp_ca_file")
    has_ca = host.file(f"{var(hostname, 'webapp_config_dir')}/{ca_file}").exists
    by_role = {
        "ollama_url": " ".join(var(hostname, "webapp_ollama_urls")),
        "ollama_username": var(hostname, "webapp_ollama_username"),
        "ollama_ca_bundle": f"{config_dir}/{ca_file}" if has_ca else "",
        "require_login": bool(var(hostname, "webapp_require_login")),
        "trust_proxy": bool(var(hostname, "webapp_trust_proxy")),
    }
    extra = var(hostname, "webapp_extra_settings")
    wrong = []
    for field, (found, default) in sorted(settings.items()):
        variable = f"WEBUI_{field.upper()}"
        if field in UNGUARDED_SETTINGS:
            continue
        expected = by_role.get(field, default)
        if variable in extra:
            expected = _as_setting(default, str(extra[variable]))
        if found != expected:
            wrong.append(f"{variable} is {found!r}, the role sets {expected!r}")
    assert not wrong, f"{hostname}: the app runs with " + "; ".join(wrong)


def test_app_reaches_every_llm_machine(host, hostname):
    """The app's /readyz lists every LLM machine of the role's list, each ready: its gateway
    is reached, its certificate verified and our credentials accepted."""
    port = var(hostname, "webapp_port")
    ca = _app_tls_paths(hostname)["ca_cert"]
    answer = json.loads(
        probe(host, "https_fetch", "GET", f"https://127.0.0.1:{port}/readyz", "", "{}", ca)
    )
    backends = json.loads(answer["body"])["backends"]
    expected = [urlsplit(url).hostname for url in var(hostname, "webapp_ollama_urls")]
    listed = [backend["name"] for backend in backends]
    assert listed == expected, f"{hostname}: the app asks LLM machines {listed}, want {expected}"
    unready = {b["name"]: b.get("reason") for b in backends if b["status"] != "ready"}
    assert not unready, f"{hostname}: LLM machines unready for the app: {unready}"


def test_secrets_not_in_container_environment(host, hostname):
    """Secrets reach the app through the settings file, not `docker inspect`."""
    name = var(hostname, "webapp_container_name")
    env = host.check_output(f"docker inspect --format '{{{{json .Config.Env}}}}' {name}")
    assert "PASSWORD" not in env
    assert "SECRET" not in env


@pytest.mark.parametrize("module", ["deflate_module"])
def test_apache_module_not_loaded(host, hostname, module):
    """Nothing in Apache compresses or buffers the stream."""
    name = var(hostname, "webapp_container_name")
    modules = host.check_output(f"docker exec {name} apache2ctl -M")
    assert module not in modules
