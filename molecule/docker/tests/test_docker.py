"""The docker role: the engine runs with its configuration, and containers run inside."""

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from deploykit.variables import scenario_host_vars

testinfra_hosts = ["instance-docker"]

IMAGE = "ollama-qa-mol/busybox:test"


@pytest.fixture
def role_vars(host) -> dict[str, Any]:
    """The inventory and the role's variables, i.e. what the role was run with."""
    return scenario_host_vars(host)


@pytest.fixture(scope="module")
def image(host) -> str:
    """A one-binary image made from the instance's static busybox: no registry needed."""
    host.check_output(
        "set -e; d=$(mktemp -d); mkdir $d/bin; cp /bin/busybox $d/bin/;"
        " tar -C $d -c . | docker import - %s >/dev/null; rm -rf $d",
        IMAGE,
    )
    return IMAGE


def container(host, name: str, command: str, image: str) -> Iterator[str]:
    """A container made by `docker <command>` from the test image, removed afterwards."""
    host.run("docker rm -f %s", name)
    host.check_output(f"docker {command}", name, image)
    yield name
    host.run("docker rm -f %s", name)


@pytest.fixture
def created_container(host, image) -> Iterator[str]:
    """A container created (not started) from the test image, removed afterwards."""
    yield from container(host, "ollama-qa-mol-logs", "create --name %s %s /bin/busybox true", image)


@pytest.fixture
def published_container(host, image) -> Iterator[str]:
    """A running container with a published port, removed afterwards."""
    command = "run -d --name %s -p 18080:80 %s /bin/busybox sleep 60"
    yield from container(host, "ollama-qa-mol-proxy", command, image)


@pytest.fixture
def peer_address(host) -> str:
    """The address of the peer machine on the scenario's network."""
    peer = host.get_host(
        "ansible://peer-docker", ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"]
    )
    return peer.interface.default().addresses[0]


def docker_info(host) -> dict[str, Any]:
    """docker info as JSON."""
    return json.loads(host.check_output("docker info --format '{{json .}}'"))


@pytest.mark.parametrize("service", ["docker", "containerd"])
def test_service_running_and_enabled(host, service):
    """The engine and its runtime run now and start at boot."""
    unit = host.service(service)
    assert unit.is_running and unit.is_enabled


def test_storage_driver(host, role_vars):
    """dockerd uses docker_storage_driver."""
    assert docker_info(host)["Driver"] == role_vars["docker_storage_driver"]


def test_live_restore(host, role_vars):
    """Containers survive a dockerd restart when docker_live_restore is on."""
    assert docker_info(host)["LiveRestoreEnabled"] is role_vars["docker_live_restore"]


def test_container_logs_rotate(host, role_vars, created_container):
    """A new container gets json-file logs with the configured rotation."""
    log_config = json.loads(
        host.check_output(
            "docker inspect --format '{{json .HostConfig.LogConfig}}' %s", created_container
        )
    )
    assert log_config == {
        "Type": "json-file",
        "Config": {
            "max-size": role_vars["docker_log_max_size"],
            "max-file": str(role_vars["docker_log_max_file"]),
        },
    }


def test_no_tcp_socket(host):
    """dockerd listens on no TCP port: the API is reachable through the local socket only."""
    assert "dockerd" not in host.check_output("ss -Htlnp")


def test_container_runs(host, image):
    """A container starts and runs a command inside the instance."""
    assert (
        host.check_output("docker run --rm --network none %s /bin/busybox echo ok", image) == "ok"
    )


def test_published_port_userland_proxy(host, role_vars, published_container):
    """A published port runs a docker-proxy process exactly when docker_userland_proxy is on."""
    processes = host.check_output("ps -eo comm").split()
    assert ("docker-proxy" in processes) is role_vars["docker_userland_proxy"]


def test_bridged_container_reaches_peer(host, image, peer_address):
    """A container on Docker's bridge reaches another machine through our forward chain."""
    banner = host.run(
        "docker run --rm %s /bin/busybox timeout 5 /bin/busybox nc %s 22 </dev/null",
        image,
        peer_address,
    )
    assert banner.stdout.startswith("SSH-2.0"), banner.stderr


def test_docker_tables_survive_firewall_reload(host):
    """Reloading the firewall leaves Docker's NAT rules in place."""
    host.check_output("systemctl reload nftables.service")
    assert host.run("nft list chain ip nat DOCKER").rc == 0


def test_nobody_in_docker_group(host):
    """No user is in the docker group, which is root-equivalent."""
    assert host.group("docker").members == []
