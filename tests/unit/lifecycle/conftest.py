"""Every lifecycle test gets its own cache and state folders, so none can touch a real topology."""

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def own_folders(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("OLLAMA_QA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("OLLAMA_QA_STATE", str(tmp_path / "state"))
    monkeypatch.delenv("OLLAMA_QA_KEEP", raising=False)
    monkeypatch.delenv("GITHUB_ENV", raising=False)
    monkeypatch.delenv("CHROMIUM_PATH", raising=False)
    (tmp_path / "state").mkdir()
    return tmp_path / "state"
