"""The test command: its stages in order, the idempotence check and the teardown."""

import os
from pathlib import Path

import pytest

from lifecycle import host, topology

RECAP = """
TASK [webapp : Ensure the container runs.] ***
changed: [web1]

PLAY RECAP *********************************************************************
ollama-qa-local-db         : ok=40   changed={db_changed}    unreachable=0    failed=0    skipped=3
ollama-qa-local-lb         : ok=52   changed=0    unreachable=0    failed={lb_failed}    skipped=7
"""


def test_quiet_recap_passes() -> None:
    """A recap of zeros passes, whatever changed before the recap is printed."""
    assert topology.recap_failures(RECAP.format(db_changed=0, lb_failed=0)) == []


@pytest.mark.parametrize(("db_changed", "lb_failed"), [(1, 0), (10, 0), (0, 2)])
def test_recap_with_a_change_or_failure_fails(db_changed: int, lb_failed: int) -> None:
    """Any changed, failed or unreachable count above 0 is reported with its line."""
    failures = topology.recap_failures(RECAP.format(db_changed=db_changed, lb_failed=lb_failed))
    assert len(failures) == 1


def test_output_without_recap_has_no_failures() -> None:
    """Changes shown before any recap do not count: only the recap is read."""
    assert topology.recap_failures("changed=3 failed=1") == []


def test_converge_command_names_the_state(own_folders: Path) -> None:
    """site.yml with the generated inventory, local vars, artifacts and secrets, then extras."""
    argv, env = topology.converge_command(["--check", "--diff"])
    assert argv[0] == host.tool("ansible-playbook")
    assert argv[1:3] == ["-i", str(own_folders / "inventory.yml")]
    assert f"@{own_folders / 'artifacts/artifacts.yml'}" in argv
    assert f"@{own_folders / 'secrets.yml'}" in argv
    assert argv[-3:] == [str(topology.ANSIBLE_DIR / "site.yml"), "--check", "--diff"]
    assert env["ANSIBLE_CONFIG"] == str(topology.ANSIBLE_DIR / "ansible.cfg")


@pytest.fixture
def stages(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every stage of `test` replaced by one that records its name."""
    done: list[str] = []
    monkeypatch.setattr(topology, "bootstrap", lambda: done.append("bootstrap"))
    monkeypatch.setattr(topology, "tox", lambda *args: done.append("tox " + " ".join(args)))
    monkeypatch.setattr(topology, "up", lambda: done.append("up"))
    monkeypatch.setattr(topology, "second_converge", lambda: done.append("second converge"))
    monkeypatch.setattr(topology, "suites_env", lambda: done.append("suites env"))
    monkeypatch.setattr(topology, "down", lambda: done.append("down"))
    return done


def test_stages_in_order_and_teardown_of_what_it_started(stages: list[str]) -> None:
    """Static and unit checks, Molecule, up, second converge, the deploy suites, the fast fault
    subset, then down."""
    topology.test()
    assert stages == [
        "bootstrap",
        "tox -m fast",
        "tox -e molecule",
        "up",
        "second converge",
        "suites env",
        "tox -m deploy",
        "tox -e faults -- --fast",
        "down",
    ]


def test_topology_that_was_up_stays(stages: list[str], own_folders: Path) -> None:
    """A topology that was up before the run is reused and left up."""
    (own_folders / "inventory.yml").write_text("all: {}\n")
    topology.test(deploy_only=True)
    assert stages == [
        "bootstrap",
        "up",
        "second converge",
        "suites env",
        "tox -m deploy",
        "tox -e faults -- --fast",
    ]


def test_keep_leaves_a_new_topology_up(stages: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """OLLAMA_QA_KEEP=1 keeps the topology this run started."""
    monkeypatch.setenv("OLLAMA_QA_KEEP", "1")
    topology.test(deploy_only=True)
    assert "down" not in stages


def test_failure_still_tears_down(stages: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A failed check does not leave the topology this run started behind."""

    def failing_converge() -> None:
        stages.append("second converge")
        raise topology.LifecycleError("changed")

    monkeypatch.setattr(topology, "second_converge", failing_converge)
    with pytest.raises(topology.LifecycleError):
        topology.test(deploy_only=True)
    assert stages == ["bootstrap", "up", "second converge", "down"]


def test_suites_get_the_login(own_folders: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The suites find the inventory and the CA, and get the generated password; the user's name
    they resolve from the inventory, so none is set here."""
    for name in ("INVENTORY", "CA_FILE", "USERNAME", "PASSWORD"):
        monkeypatch.setenv(f"OLLAMA_QA_{name}", "")  # restored after the test
    (own_folders / "secrets.yml").write_text('---\nvault_webapp_admin_password: "pw-1"\n')
    topology.suites_env()
    assert os.environ["OLLAMA_QA_INVENTORY"] == str(own_folders / "inventory.yml")
    assert os.environ["OLLAMA_QA_CA_FILE"] == str(own_folders / "acme-root.pem")
    assert os.environ["OLLAMA_QA_USERNAME"] == ""
    assert os.environ["OLLAMA_QA_PASSWORD"] == "pw-1"


def test_faults_passes_its_arguments_to_the_runner(stages: list[str]) -> None:
    """`lifecycle faults --only ID` finds the topology, then runs tox -e faults with the ID."""
    topology.faults(["--only", "haproxy-hsts-removed"])
    assert stages == ["suites env", "tox -e faults -- --only haproxy-hsts-removed"]
