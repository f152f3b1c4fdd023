"""Web machines: the app container under Docker, healthy, with private settings."""

import json
import posixpath

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


def test_app_container_is_healthy(host, hostname):
    """The app's container runs and its health check passes."""
    name = var(hostname, "webapp_container_name")
    state = json.loads(host.check_output(f"docker inspect --format '{{{{json .State}}}}' {name}"))
    assert state["Running"]
    assert state["Health"]["Status"] == "healthy"


def test_app_container_restarts_by_itself(host, hostname):
    """A crashed or rebooted container comes back without an operator."""
    name = var(hostname, "webapp_container_name")
    policy = host.check_output(
        f"docker inspect --format '{{{{.HostConfig.RestartPolicy.Name}}}}' {name}"
    )
    assert policy in ("always", "unless-stopped")


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


def test_app_tls_keys_are_private(host, hostname):
    """The CA key is root's alone; the server key is readable by the container's group, no other."""
    paths = _app_tls_paths(hostname)
    ca_key = host.file(paths["ca_key"])
    assert ca_key.user == "root" and ca_key.mode & 0o077 == 0
    server_key = host.file(paths["server_key"])
    assert server_key.user == "root" and server_key.mode & 0o007 == 0


def test_settings_file_is_private(host, hostname):
    """The settings file holding the app's secrets is not readable by other users."""
    config_dir = var(hostname, "webapp_config_dir")
    settings = host.file(f"{config_dir}/{var(hostname, '__webapp_settings_file')}")
    assert settings.exists
    assert settings.mode & 0o007 == 0


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
