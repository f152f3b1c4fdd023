"""The state folders follow the same variables, in the same order, as the lifecycle scripts."""

from pathlib import Path

import pytest

from deploykit import state


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("OLLAMA_QA_CACHE", "OLLAMA_QA_STATE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def test_defaults_are_under_the_home_cache(tmp_path: Path) -> None:
    """With nothing set: ~/.cache/ollama-qa and its local-topology folder."""
    assert state.cache_dir() == tmp_path / "home" / ".cache" / "ollama-qa"
    assert state.state_dir() == state.cache_dir() / "local-topology"
    assert state.local_inventory() == state.state_dir() / "inventory.yml"


def test_xdg_cache_home_moves_the_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """XDG_CACHE_HOME replaces ~/.cache, and the state folder follows the cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert state.cache_dir() == tmp_path / "xdg" / "ollama-qa"
    assert state.state_dir() == tmp_path / "xdg" / "ollama-qa" / "local-topology"


def test_ollama_qa_cache_wins_over_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """OLLAMA_QA_CACHE names the cache itself, whatever XDG_CACHE_HOME says."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("OLLAMA_QA_CACHE", str(tmp_path / "cache"))
    assert state.cache_dir() == tmp_path / "cache"
    assert state.local_inventory() == tmp_path / "cache" / "local-topology" / "inventory.yml"


def test_ollama_qa_state_wins_over_the_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """OLLAMA_QA_STATE names the state folder itself, apart from the cache."""
    monkeypatch.setenv("OLLAMA_QA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("OLLAMA_QA_STATE", str(tmp_path / "state"))
    assert state.state_dir() == tmp_path / "state"
    assert state.local_inventory() == tmp_path / "state" / "inventory.yml"


def test_repository_folders_are_found_from_the_package() -> None:
    """REPO_ROOT holds the package itself; ANSIBLE_DIR holds site.yml's roles."""
    assert (state.REPO_ROOT / "deploykit" / "state.py").is_file()
    assert (state.ANSIBLE_DIR / "roles").is_dir()
