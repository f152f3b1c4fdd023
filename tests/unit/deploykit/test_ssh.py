"""deploykit.ssh: the ssh command line as Ansible builds it; probes sent as their file's text."""

import ast
import shlex
import sys
from pathlib import Path

import pytest

from deploykit import ssh
from deploykit.ssh import Machine

PROBES = sorted(p.stem for p in ssh.PROBES.glob("*.py") if p.stem != "__init__")


def machine(**overrides: object) -> Machine:
    values = {
        "name": "web1",
        "ansible_host": "192.0.2.10",
        "private_address": "10.0.0.10",
        "user": "debian",
        "key_file": "/keys/id",
        "port": 2222,
        "ssh_args": ("-o", "ProxyJump=bastion", "-o", "StrictHostKeyChecking=no"),
        "known_hosts": "",
        **overrides,
    }
    return Machine(**values)


def test_argv_uses_the_inventorys_user_key_port_and_args() -> None:
    """User, key, port and the inventory's ssh args, never prompting, the target last."""
    argv = ssh.argv(machine(), "-N")
    assert argv[:5] == ["ssh", "-i", "/keys/id", "-p", "2222"]
    assert "BatchMode=yes" in argv
    assert argv[-3:] == ["StrictHostKeyChecking=no", "-N", "debian@192.0.2.10"]
    assert argv.index("ProxyJump=bastion") < argv.index("-N")


def test_known_hosts_checking_comes_before_the_inventorys_own() -> None:
    """ssh keeps an option's first value: the strict check precedes the inventory's 'no'."""
    argv = ssh.argv(machine(known_hosts="/state/known_hosts"))
    strict = argv.index("StrictHostKeyChecking=yes")
    assert strict < argv.index("StrictHostKeyChecking=no")
    assert "UserKnownHostsFile=/state/known_hosts" in argv


def test_without_known_hosts_no_checking_option_is_added() -> None:
    assert "StrictHostKeyChecking=yes" not in ssh.argv(machine())


@pytest.mark.parametrize("name", PROBES)
def test_every_probe_is_sent_as_its_file(name: str) -> None:
    """probe_argv is python3 -c with the file's text, then the arguments as given."""
    argv = ssh.probe_argv(name, "a b", "--x")
    assert argv == ["python3", "-c", (ssh.PROBES / f"{name}.py").read_text(), "a b", "--x"]


@pytest.mark.parametrize("name", PROBES)
def test_every_probe_compiles_and_has_a_main(name: str) -> None:
    """A probe is a program of its own: it compiles alone and runs main() when run."""
    source = ssh.probe_source(name)
    compile(source, name, "exec")
    assert "\ndef main(" in source
    assert 'if __name__ == "__main__":' in source


@pytest.mark.parametrize("name", PROBES)
def test_probes_import_nothing_outside_the_standard_library(name: str) -> None:
    """The machines have python3 and nothing else the kit could rely on (app_setting runs in
    the app's container, where the app is installed)."""
    allowed_third_party = {"app_setting": {"webui"}}.get(name, set())
    source = ssh.probe_source(name)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            modules = [node.module or ""]
        else:
            continue
        for module in modules:
            top = module.split(".")[0]
            assert top in sys.stdlib_module_names or top in allowed_third_party, (name, module)


def test_remote_command_quotes_the_probe_for_the_shell() -> None:
    """The remote command line is shell-quoted: ssh hands it to the login shell as one string."""
    remote = ssh._remote("ca_count", ("/etc/a b.pem",), root=True)
    assert remote.startswith("sudo -n ")
    assert shlex.split(remote.removeprefix("sudo -n ")) == ssh.probe_argv(
        "ca_count", "/etc/a b.pem"
    )


def test_probe_source_of_an_unknown_probe_fails() -> None:
    with pytest.raises(FileNotFoundError):
        ssh.probe_source("no_such_probe")


def test_probes_folder_is_inside_the_package() -> None:
    assert Path(ssh.__file__).parent / "probes" == ssh.PROBES
