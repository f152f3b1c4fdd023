"""Every machine: hardened SSH, a default-deny firewall, a non-root deploy user."""

import json

import pytest
from conftest import hosts, inventory, running_and_enabled, var

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
def test_sshd_effective_option(host, hostname, option, expected):
    """sshd's effective configuration allows keys only, and no root login."""
    effective = dict(
        line.split(" ", 1) for line in host.check_output("sshd -T").splitlines() if " " in line
    )
    assert effective[option] == expected, (
        f"{hostname}: sshd runs with {option} {effective[option]}, want {expected}"
    )


@pytest.mark.parametrize("service", ["ssh", "nftables", "unattended-upgrades"])
def test_service_running_and_enabled(host, hostname, service):
    """The machine's base services run now and start at boot."""
    running, enabled = running_and_enabled(host, service)
    assert running, f"{hostname}: {service} is not running"
    assert enabled, f"{hostname}: {service} is not enabled: it will not start after a reboot"


def test_firewall_input_policy_is_drop(host, hostname):
    """Inbound traffic nobody opened is dropped."""
    ruleset = json.loads(host.check_output("nft -j list chain inet filter input"))
    chain = next(item["chain"] for item in ruleset["nftables"] if "chain" in item)
    assert chain["policy"] == "drop", (
        f"{hostname}: the firewall's input policy is {chain['policy']}"
    )


def test_deploy_user_has_no_password(host, hostname):
    """The deploy user exists, is not root, and cannot log in with a password."""
    name = var(hostname, "base_deploy_user")
    user = host.user(name)
    assert user.exists
    assert user.uid != 0
    assert user.password in ("!", "*", "!*", "!!")


def test_security_updates_are_automatic(host, hostname):
    """APT's periodic timers run unattended-upgrades."""
    config = host.check_output("apt-config dump APT::Periodic::Unattended-Upgrade")
    assert '"1"' in config, f"{hostname}: unattended upgrades are off: {config.strip()}"


# Users sudo lists commands for; the others get "is not allowed to run sudo".
SUDOERS = (
    'for user in $(getent passwd | cut -d: -f1); do sudo -n -l -U "$user"'
    ' | grep -q "may run the following" && echo "$user"; done; true'
)


def test_only_the_administrators_may_sudo(host, hostname):
    """sudo is for root, the deploy user and the user Ansible logs in as; no service account."""
    admins = {"root", var(hostname, "base_deploy_user")}
    admins.add(inventory().hostvars(hostname)["ansible_user"])
    allowed = set(host.check_output(SUDOERS).split())
    assert allowed <= admins, f"{hostname}: {sorted(allowed - admins)} may use sudo"
