"""Web machines: the app container under Docker, healthy, with private settings."""

import json
import shlex

import pytest
from conftest import host_var, hosts, role_internal

testinfra_hosts = hosts("web")


def test_docker_running_and_enabled(host):
    """The Docker engine runs and starts at boot."""
    docker = host.service("docker")
    assert docker.is_running
    assert docker.is_enabled


def test_app_container_is_healthy(host, hostname):
    """The app's container runs and its health check passes."""
    name = host_var(hostname, "webapp_container_name", role="webapp")
    state = json.loads(host.check_output(f"docker inspect --format '{{{{json .State}}}}' {name}"))
    assert state["Running"]
    assert state["Health"]["Status"] == "healthy"


def test_app_container_restarts_by_itself(host, hostname):
    """A crashed or rebooted container comes back without an operator."""
    name = host_var(hostname, "webapp_container_name", role="webapp")
    policy = host.check_output(
        f"docker inspect --format '{{{{.HostConfig.RestartPolicy.Name}}}}' {name}"
    )
    assert policy in ("always", "unless-stopped")


def test_app_listens_on_its_port(host, hostname):
    """Apache in the container answers on the app port (host networking)."""
    port = host_var(hostname, "webapp_port", role="webapp")
    assert host.socket(f"tcp://0.0.0.0:{port}").is_listening


def _app_tls_paths(hostname):
    """The web machine's CA certificate and key, and its server key, as private_tls places them."""
    ca_dir = host_var(hostname, "webapp_tls_ca_dir", role="webapp")
    server_dir = "/".join(
        (
            host_var(hostname, "webapp_config_dir", role="webapp"),
            role_internal("webapp", "__webapp_tls_dir"),
        )
    )
    return {
        name: role_internal("private_tls", f"__private_tls_{name}")
        .replace("{{ private_tls_ca_dir }}", ca_dir)
        .replace("{{ private_tls_dir }}", server_dir)
        for name in ("ca_cert", "ca_key", "server_key")
    }


def test_app_port_speaks_tls_verified_by_the_machines_ca(host, hostname):
    """The app answers over TLS with a certificate of this machine's CA, and never in plain HTTP."""
    port = host_var(hostname, "webapp_port", role="webapp")
    ca = _app_tls_paths(hostname)["ca_cert"]
    probe = (
        "import ssl, urllib.request, urllib.error\n"
        "def status(url, context=None):\n"
        "    try:\n"
        "        return urllib.request.urlopen(url, timeout=10, context=context).status\n"
        "    except urllib.error.HTTPError as error:\n"
        "        return error.code\n"
        "    except OSError:\n"
        "        return 0\n"
        f"context = ssl.create_default_context(cafile='{ca}')\n"
        f"print(status('https://127.0.0.1:{port}/healthz', context),"
        f" status('http://127.0.0.1:{port}/healthz'))\n"
    )
    tls, plain = host.check_output(f"python3 -c {shlex.quote(probe)}").split()
    assert tls == "200"
    assert plain != "200", "the app's port answered plain HTTP"


def test_app_tls_keys_are_private(host, hostname):
    """The CA key is root's alone; the server key is readable by the container's group, no other."""
    paths = _app_tls_paths(hostname)
    ca_key = host.file(paths["ca_key"])
    assert ca_key.user == "root" and ca_key.mode & 0o077 == 0
    server_key = host.file(paths["server_key"])
    assert server_key.user == "root" and server_key.mode & 0o007 == 0


def test_settings_file_is_private(host, hostname):
    """The settings file holding the app's secrets is not readable by other users."""
    config_dir = host_var(hostname, "webapp_config_dir", role="webapp")
    settings = host.file(f"{config_dir}/{role_internal('webapp', '__webapp_settings_file')}")
    assert settings.exists
    assert settings.mode & 0o007 == 0


def test_secrets_not_in_container_environment(host, hostname):
    """Secrets reach the app through the settings file, not `docker inspect`."""
    name = host_var(hostname, "webapp_container_name", role="webapp")
    env = host.check_output(f"docker inspect --format '{{{{json .Config.Env}}}}' {name}")
    assert "PASSWORD" not in env
    assert "SECRET" not in env


@pytest.mark.parametrize("module", ["deflate_module"])
def test_apache_module_not_loaded(host, hostname, module):
    """Nothing in Apache compresses or buffers the stream."""
    name = host_var(hostname, "webapp_container_name", role="webapp")
    modules = host.check_output(f"docker exec {name} apache2ctl -M")
    assert module not in modules
