"""Web machines: the app container under Docker, healthy, with private settings."""

import json

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
