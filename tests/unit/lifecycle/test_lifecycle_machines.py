"""The local topology's machines: Terraform variables fixed at the first `up`, keys made once."""

import stat
import subprocess
from pathlib import Path

import pytest

from lifecycle import machines

SETTINGS = (
    "OLLAMA_QA_LOCAL_PREFIX",
    "OLLAMA_QA_LOCAL_SUBNET",
    "OLLAMA_QA_WEB_COUNT",
    "OLLAMA_QA_LLM_INSTALL_METHODS",
)


@pytest.fixture(autouse=True)
def no_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)


def test_defaults_leave_llm_machines_to_terraform(tmp_path: Path) -> None:
    """Unset, llm_machines is left out: environments/local holds its only default."""
    settings = machines.tfvars(tmp_path, {}, "vm:1", "acme:1")
    assert settings["name_prefix"] == "ollama-qa-local"
    assert settings["subnet_cidr"] == "172.30.57.0/24"
    assert settings["web_count"] == 2
    assert "llm_machines" not in settings
    assert settings["ssh_private_key_file"] == f"{tmp_path}/id_ed25519"
    assert settings["acme_ca_file"] == f"{tmp_path}/acme/ca.pem"


def test_environment_chooses_a_new_topology(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The settings of the environment shape a first `up`."""
    monkeypatch.setenv("OLLAMA_QA_LOCAL_PREFIX", "other")
    monkeypatch.setenv("OLLAMA_QA_WEB_COUNT", "3")
    monkeypatch.setenv("OLLAMA_QA_LLM_INSTALL_METHODS", "binary, simulator")
    settings = machines.tfvars(tmp_path, {}, "vm:1", "acme:1")
    assert settings["name_prefix"] == "other"
    assert settings["web_count"] == 3
    assert settings["llm_machines"] == [
        {"install_method": "binary"},
        {"install_method": "simulator"},
    ]


def test_earlier_up_wins_over_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """What an earlier `up` recorded stays, so that `down` removes what was created; the images
    follow the build."""
    previous = {
        "name_prefix": "first",
        "subnet_cidr": "10.9.0.0/24",
        "web_count": 4,
        "llm_machines": [{"install_method": "simulator"}],
        "vm_image": "vm:old",
    }
    monkeypatch.setenv("OLLAMA_QA_LOCAL_PREFIX", "second")
    monkeypatch.setenv("OLLAMA_QA_LLM_INSTALL_METHODS", "binary")
    settings = machines.tfvars(tmp_path, previous, "vm:new", "acme:new")
    assert settings["name_prefix"] == "first"
    assert settings["subnet_cidr"] == "10.9.0.0/24"
    assert settings["web_count"] == 4
    assert settings["llm_machines"] == [{"install_method": "simulator"}]
    assert settings["vm_image"] == "vm:new"


def test_down_without_state_does_nothing(own_folders: Path) -> None:
    """A state folder with no recorded topology is left alone, and nothing is run."""
    machines.down(own_folders / "absent")
    machines.down(own_folders)
    assert list(own_folders.iterdir()) == []


def test_acme_certificate_is_made_once(tmp_path: Path) -> None:
    """Pebble's endpoint certificate chains to its CA and names the endpoint; keys are 0600,
    and a second `up` keeps it, so the machines keep trusting the same CA."""
    machines.ensure_acme_certificate(tmp_path)
    directory = tmp_path / "acme"
    assert machines.acme_certificate_is_current(directory)
    assert {path.name for path in directory.iterdir()} == {
        "ca.key",
        "ca.pem",
        "cert.pem",
        "key.pem",
    }
    assert stat.S_IMODE((directory / "key.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE((directory / "ca.key").stat().st_mode) == 0o600
    before = (directory / "cert.pem").read_bytes()
    machines.ensure_acme_certificate(tmp_path)
    assert (directory / "cert.pem").read_bytes() == before


def test_certificate_for_another_name_is_not_current(tmp_path: Path) -> None:
    """A certificate from the same CA that does not name the endpoint is made again."""
    machines.ensure_acme_certificate(tmp_path)
    directory = tmp_path / "acme"
    csr, extensions = tmp_path / "other.csr", tmp_path / "other.ext"
    extensions.write_text("subjectAltName=DNS:other.ollama-qa.test\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    request = ["openssl", "req", *ec, "-subj", "/CN=other", "-keyout", tmp_path / "other.key"]
    subprocess.run([*request, "-out", csr], check=True, capture_output=True)
    sign = ["openssl", "x509", "-req", "-in", csr, "-CA", directory / "ca.pem"]
    sign += ["-CAkey", directory / "ca.key", "-CAcreateserial", "-days", "30"]
    sign += ["-extfile", extensions, "-out", directory / "cert.pem"]
    subprocess.run(sign, check=True, capture_output=True)
    assert not machines.acme_certificate_is_current(directory)


def test_ssh_key_is_owner_only_and_kept(tmp_path: Path) -> None:
    """The key Ansible logs in with is made once, 0600."""
    machines.ensure_ssh_key(tmp_path)
    key = tmp_path / "id_ed25519"
    before = key.read_bytes()
    key.chmod(0o644)
    machines.ensure_ssh_key(tmp_path)
    assert key.read_bytes() == before
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
