"""Every machine: hardened SSH, a default-deny firewall, a non-root deploy user."""

import json

import pytest
from conftest import hosts, running_and_enabled, var

testinfra_hosts = hosts("lb", "web", "llm", "db")


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("passwordauthentication", "no"),
        ("kbdinteractiveauthentication", "no"),
        ("permitrootlogin", "no"),
        ("pubkeyauthentication", "yes"),
    ],
)
def test_sshd_effective_option(host, option, expected):
    """sshd's effective configuration allows keys only, and no root login."""
    effective = dict(
        line.split(" ", 1) for line in host.check_output("sshd -T").splitlines() if " " in line
    )
    assert effective[option] == expected


@pytest.mark.parametrize("service", ["ssh", "nftables", "unattended-upgrades"])
def test_service_running_and_enabled(host, service):
    """The machine's base services run now and start at boot."""
    assert running_and_enabled(host, service) == (True, True)


def test_firewall_input_policy_is_drop(host):
    """Inbound traffic nobody opened is dropped."""
    ruleset = json.loads(host.check_output("nft -j list chain inet filter input"))
    chain = next(item["chain"] for item in ruleset["nftables"] if "chain" in item)
    assert chain["policy"] == "drop"


def test_deploy_user_has_no_password(host, hostname):
    """The deploy user exists, is not root, and cannot log in with a password."""
    name = var(hostname, "base_deploy_user")
    user = host.user(name)
    assert user.exists
    assert user.uid != 0
    assert user.password in ("!", "*", "!*", "!!")


def test_security_updates_are_automatic(host):
    """APT's periodic timers run unattended-upgrades."""
    config = host.check_output("apt-config dump APT::Periodic::Unattended-Upgrade")
    assert '"1"' in config
