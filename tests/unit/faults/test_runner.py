"""The runner's steps on a stand-in machine: its scripts run in a local shell on a temp file."""

import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from deploykit.ssh import Machine
from faults import runner, verdicts
from faults.definitions import Fault, Target
from faults.health import Unhealthy

MACHINE = Machine("web2", "10.0.0.2", "10.0.0.2", "debian", "key", 22)
TOPOLOGY = SimpleNamespace(lb=MACHINE, web=(MACHINE, MACHINE), llm=(MACHINE,), db=MACHINE)


@pytest.fixture
def local_shell(monkeypatch):
    """ssh.run as a local shell: the fault's scripts change files under the test's folder."""

    def run(machine, command, *, timeout=60, check=True, stdin=None):
        return subprocess.run(
            ["sh", "-c", command], capture_output=True, text=True, timeout=timeout
        )

    monkeypatch.setattr(runner.ssh, "run", run)
    monkeypatch.setattr(runner, "LIVE_SECONDS", 0)


def fault(config: Path, **fields) -> Fault:
    values = {
        "id": "webapp-limit-loosened",
        "role": "webapp",
        "summary": "a limit loosened",
        "machine": Target("web", 1),
        "files": (str(config),),
        "inject": f"sed -i s/limit=5/limit=500/ {config}",
        "live": f"grep -q limit=500 {config}",
        "tests": ("tests/infra/test_web.py::test_limit",),
    }
    return Fault(**{**values, **fields})


def results(*kinds: str):
    return lambda tests, report, log: [
        verdicts.TestResult(t, k, "why") for t in tests for k in kinds
    ]


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "settings.env"
    path.write_text("limit=5\n")
    path.chmod(0o600)
    return path


def test_caught_fault_is_restored_with_its_mode(local_shell, monkeypatch, config, tmp_path):
    seen = []
    monkeypatch.setattr(
        runner,
        "run_pytest",
        lambda *a: seen.append(config.read_text()) or results(verdicts.CAUGHT)(*a),
    )
    outcome = runner.run_fault(TOPOLOGY, fault(config), tmp_path, health=lambda t: None)
    assert seen == ["limit=500\n"], "the tests ran while the fault was live"
    assert outcome.ok and outcome.machine == "web2"
    assert config.read_text() == "limit=5\n"
    assert config.stat().st_mode & 0o777 == 0o600
    assert not Path(f"{config}{runner.BACKUP_SUFFIX}").exists()


@pytest.mark.parametrize(
    "kind", [verdicts.TIMEOUT, verdicts.CRASH, verdicts.ERROR, verdicts.PASSED]
)
def test_a_fault_is_missed_unless_a_test_fails_on_an_assertion(
    local_shell, monkeypatch, config, tmp_path, kind
):
    monkeypatch.setattr(runner, "run_pytest", results(kind))
    outcome = runner.run_fault(TOPOLOGY, fault(config), tmp_path, health=lambda t: None)
    assert not outcome.caught and not outcome.ok
    assert outcome.problem.startswith("missed")
    assert outcome.restored and config.read_text() == "limit=5\n"


def test_a_fault_that_never_goes_live_runs_no_test(local_shell, monkeypatch, config, tmp_path):
    monkeypatch.setattr(runner, "run_pytest", pytest.fail)
    outcome = runner.run_fault(
        TOPOLOGY, fault(config, inject="true"), tmp_path, health=lambda t: None
    )
    assert not outcome.live and outcome.problem.startswith("not live")
    assert outcome.restored


def test_a_failed_injection_is_still_restored(local_shell, monkeypatch, config, tmp_path):
    monkeypatch.setattr(runner, "run_pytest", pytest.fail)
    broken = fault(config, inject=f"echo half >> {config}; exit 3")
    outcome = runner.run_fault(TOPOLOGY, broken, tmp_path, health=lambda t: None)
    assert "the injection on web2 exited 3" in outcome.problem
    assert config.read_text() == "limit=5\n"


def test_an_earlier_backup_is_never_overwritten(local_shell, monkeypatch, config, tmp_path):
    Path(f"{config}{runner.BACKUP_SUFFIX}").write_text("limit=5\n")
    config.write_text("limit=7\n")
    monkeypatch.setattr(runner, "run_pytest", pytest.fail)
    outcome = runner.run_fault(TOPOLOGY, fault(config), tmp_path, health=lambda t: None)
    assert "left from an earlier run" in outcome.problem
    assert Path(f"{config}{runner.BACKUP_SUFFIX}").read_text() == "limit=5\n"
    assert not outcome.restored


def test_a_restore_command_runs_after_the_files_are_back(
    local_shell, monkeypatch, config, tmp_path
):
    monkeypatch.setattr(runner, "run_pytest", results(verdicts.CAUGHT))
    marker = tmp_path / "restarted"
    outcome = runner.run_fault(
        TOPOLOGY,
        fault(config, restore=f"grep -q limit=5 {config} && touch {marker}"),
        tmp_path,
        health=lambda t: None,
    )
    assert outcome.ok and marker.exists()


def test_an_unhealthy_site_after_the_restore_fails_the_fault(
    local_shell, monkeypatch, config, tmp_path
):
    monkeypatch.setattr(runner, "run_pytest", results(verdicts.CAUGHT))

    def unhealthy(topology):
        raise Unhealthy("HAProxy's web servers are not all up")

    outcome = runner.run_fault(TOPOLOGY, fault(config), tmp_path, health=unhealthy)
    assert outcome.caught and not outcome.ok
    assert "unhealthy after the restore" in outcome.problem


def test_a_machine_the_inventory_lacks_is_reported(tmp_path, config):
    outcome = runner.run_fault(
        TOPOLOGY, fault(config, machine=Target("web", 2)), tmp_path, health=lambda t: None
    )
    assert outcome.problem == "web[2] is not in the inventory: it has 2 web"


def test_each_suite_runs_in_its_own_pytest(monkeypatch, tmp_path):
    """Two suites' conftest modules share a name, so one process cannot import both."""
    calls = []
    monkeypatch.setattr(
        runner, "_run_suite", lambda tests, report, log: calls.append((tests, report.name)) or []
    )
    runner.run_pytest(
        (
            "tests/infra/test_llm.py::test_a",
            "tests/security/test_tls.py::test_b",
            "tests/infra/test_db.py::test_c",
        ),
        tmp_path / "fault.xml",
        tmp_path / "fault.log",
    )
    assert calls == [
        (("tests/infra/test_llm.py::test_a", "tests/infra/test_db.py::test_c"), "fault.infra.xml"),
        (("tests/security/test_tls.py::test_b",), "fault.security.xml"),
    ]
