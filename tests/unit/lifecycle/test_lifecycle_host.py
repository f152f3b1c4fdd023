"""Cache keys and timings: the same values as the shell pipelines they replace."""

import json
import subprocess
from pathlib import Path

import pytest

from lifecycle import host


def test_inputs_hash_is_the_sha256sum_pipeline(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The key equals `find | sort | xargs sha256sum | sha256sum`, so caches keyed before stay."""
    root = tmp_path / "repo"
    (root / "folder" / "b_sub").mkdir(parents=True)
    (root / "folder" / "B.txt").write_text("upper")
    (root / "folder" / "a-file").write_text("dash")
    (root / "folder" / "b_sub" / "deep.py").write_text("print()")
    (root / "single.toml").write_text("[x]")
    (root / "folder" / "link").symlink_to(root / "single.toml")
    monkeypatch.setattr(host, "REPO_ROOT", root)
    pipeline = (
        "find folder single.toml -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum"
        " | sha256sum | cut -c1-16"
    )
    expected = subprocess.run(
        ["bash", "-c", pipeline], cwd=root, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert host.inputs_hash("folder", "single.toml") == expected


def test_inputs_hash_changes_with_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Editing one input gives a new key, so the cached artefact is rebuilt."""
    (tmp_path / "input").write_text("one")
    monkeypatch.setattr(host, "REPO_ROOT", tmp_path)
    before = host.inputs_hash("input")
    (tmp_path / "input").write_text("two")
    assert host.inputs_hash("input") != before


def test_record_timing_keeps_earlier_steps(own_folders: Path) -> None:
    """Each step adds its seconds, rounded down, beside the state; others stay."""
    host.record_timing("make up, after the host's set-up", 61.9)
    host.record_timing("second converge", 12.2)
    timings = json.loads((own_folders / "timings.json").read_text())
    assert timings == {"make up, after the host's set-up": "61 s", "second converge": "12 s"}


def test_tools_follow_the_cache(own_folders: Path) -> None:
    """tox and Ansible are looked for in the cache that OLLAMA_QA_CACHE names."""
    assert host.tool("tox") == str(own_folders.parent / "cache" / "tools-venv" / "bin" / "tox")
