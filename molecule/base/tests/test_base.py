"""The base role: key-only SSH, a deploy user, security updates, time sync."""

from typing import Any

import pytest

from deploykit.variables import scenario, scenario_host_vars

CLIENT_KEY = "/root/.ssh/id_ed25519"
SSH = (
    "ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
    " -o ConnectTimeout=5"
)


@pytest.fixture
def role_vars(host) -> dict[str, Any]:
    """The inventory and the role's variables, i.e. what the role was run with."""
    return scenario_host_vars(host)


def effective_sshd(host) -> dict[str, str]:
    """sshd's effective settings (sshd -T), keyed by lower-case option name."""
    lines = host.check_output("sshd -T").splitlines()
    return dict(line.split(" ", 1) for line in lines if " " in line)


@pytest.mark.parametrize("option", sorted(scenario().any("base_sshd_options")))
def test_sshd_effective_option(host, role_vars, option):
    """sshd runs with each hardening option as configured."""
    assert effective_sshd(host)[option.lower()] == role_vars["base_sshd_options"][option]


def test_sshd_offers_publickey_only(host):
    """A client without a key is told that only public keys are accepted."""
    result = host.run(f"{SSH} -o PubkeyAuthentication=no nobody@127.0.0.1 true")
    assert "Permission denied (publickey)." in result.stderr


def test_root_refused_even_with_authorized_key(host):
    """Root cannot log in over SSH although its key is authorized."""
    assert host.run(f"{SSH} -i {CLIENT_KEY} root@127.0.0.1 true").rc == 255


def test_ansible_login_user_keeps_key_access(host):
    """The debian user Ansible connects as still logs in with its key."""
    assert host.run(f"{SSH} -i {CLIENT_KEY} debian@127.0.0.1 true").rc == 0


def test_deploy_user_logs_in_and_uses_sudo(host, role_vars):
    """The deploy user logs in with its key and runs sudo without a password."""
    user = role_vars["base_deploy_user"]
    assert host.check_output(f"{SSH} -i {CLIENT_KEY} {user}@127.0.0.1 sudo -n id -u") == "0"


def test_deploy_user_has_no_password(host, role_vars):
    """The deploy user's password field holds no hash, so no password can be guessed."""
    assert host.user(role_vars["base_deploy_user"]).password in ("!", "*", "!*")


def test_deploy_user_has_no_extra_groups(host, role_vars):
    """The deploy user is in its own group only (no sudo, no docker group)."""
    user = role_vars["base_deploy_user"]
    assert host.user(user).groups == [user]


def test_deploy_user_authorized_keys_exact(host, role_vars):
    """The deploy user's authorized_keys holds exactly the configured key."""
    home = host.user(role_vars["base_deploy_user"]).home
    keys = host.file(f"{home}/.ssh/authorized_keys")
    lines = [line for line in keys.content_string.splitlines() if not line.startswith("#")]
    assert (lines, keys.mode) == ([host.file(f"{CLIENT_KEY}.pub").content_string.strip()], 0o600)


def test_sudoers_drop_in_is_valid_and_read_only(host):
    """The sudoers drop-in parses and only root can read it."""
    drop_in = host.file("/etc/sudoers.d/ollama-qa-deploy")
    assert (drop_in.mode, host.run("visudo -c").rc) == (0o440, 0)


def test_unattended_upgrades_origins_are_security_only(host, role_vars):
    """unattended-upgrades takes packages from the configured security origins only."""
    dump = host.check_output("apt-config dump Unattended-Upgrade::Origins-Pattern")
    patterns = [line.split(" ", 1)[1].strip('";') for line in dump.splitlines()[1:]]
    assert patterns == role_vars["base_unattended_origins_patterns"]


@pytest.mark.parametrize(
    "setting", ["APT::Periodic::Update-Package-Lists", "APT::Periodic::Unattended-Upgrade"]
)
def test_apt_periodic_setting_enabled(host, setting):
    """apt refreshes its lists and runs unattended-upgrades daily."""
    assert host.check_output(f"apt-config shell VALUE {setting}") == "VALUE='1'"


@pytest.mark.parametrize("timer", ["apt-daily.timer", "apt-daily-upgrade.timer"])
def test_apt_timer_active_and_enabled(host, timer):
    """The timers that drive automatic updates are scheduled."""
    service = host.service(timer)
    assert service.is_enabled and service.is_running


def test_timesyncd_enabled(host):
    """Time synchronisation starts at boot (containers share the host clock)."""
    assert host.service("systemd-timesyncd").is_enabled
