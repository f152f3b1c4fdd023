"""The command line: what reaches ansible-playbook, what is refused, what a user reads."""

from pathlib import Path

import pytest

from lifecycle import __main__ as cli
from lifecycle import access, ollama, topology


def test_converge_passes_its_arguments_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """Options and their values reach ansible-playbook in order; its status is the exit status."""
    seen = []
    monkeypatch.setattr(topology, "converge", lambda extra: seen.append(list(extra)) or 3)
    status = cli.main(["converge", "--limit", "llm,db,web", "-e", "x=1", "--check"])
    assert seen == [["--limit", "llm,db,web", "-e", "x=1", "--check"]]
    assert status == 3


def test_other_commands_refuse_unknown_arguments() -> None:
    """A mistyped option is an error, not silently ignored."""
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["down", "--force"])
    assert exit_info.value.code == 2


def test_failed_step_exits_non_zero(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A step that cannot go on prints why and exits with 1."""

    def failing() -> None:
        raise topology.LifecycleError("terraform apply failed")

    monkeypatch.setattr(topology, "down", failing)
    assert cli.main(["down"]) == 1
    assert "error: terraform apply failed" in capsys.readouterr().err


def test_access_shows_the_password_only_on_a_terminal(tmp_path: Path) -> None:
    """In a log the message names the secrets file instead of the password."""
    shown = access.message(tmp_path, "www.example.test", "10.0.0.1", "admin", "s3cret")
    logged = access.message(tmp_path, "www.example.test", "10.0.0.1", "admin", None)
    assert "admin / s3cret" in shown
    assert "s3cret" not in logged
    assert f"vault_webapp_admin_password in {tmp_path / 'secrets.yml'}" in logged
    assert "MAP www.example.test 10.0.0.1" in logged


@pytest.mark.parametrize(
    ("flags", "expected"),
    [("fpu avx2 sse fma", "-O3 -march=x86-64-v3"), ("fpu avx sse fma", "-O3")],
)
def test_ollama_build_targets_this_cpu(
    monkeypatch: pytest.MonkeyPatch, flags: str, expected: str
) -> None:
    """x86-64-v3 only with both AVX2 and FMA; OLLAMA_QA_OLLAMA_CFLAGS overrides."""
    monkeypatch.delenv("OLLAMA_QA_OLLAMA_CFLAGS", raising=False)
    assert ollama.compiler_flags(f"flags\t\t: {flags}\n") == expected
    monkeypatch.setenv("OLLAMA_QA_OLLAMA_CFLAGS", "-O2")
    assert ollama.compiler_flags(f"flags\t\t: {flags}\n") == "-O2"
