"""The bootstrap uses the Docker and browser a machine already has."""

import os
from pathlib import Path

import pytest

from lifecycle import bootstrap


def executable(path: Path, text: str = "#!/bin/sh\nexit 0\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


@pytest.fixture
def bin_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", str(folder))
    return folder


SNAP_STUB = """#!/bin/sh
if ! [ -x /snap/bin/chromium ]; then
  echo "Command '$0' requires the chromium snap to be installed." >&2
  exit 1
fi
exec /snap/bin/chromium "$@"
"""


def test_debian_packages_only_where_nothing_is_installed() -> None:
    """docker.io and chromium are asked for only when no Docker or browser is there."""
    both = bootstrap.wanted_packages(docker_installed=True, browser_installed=True)
    assert "docker.io" not in both
    assert "chromium" not in both
    neither = bootstrap.wanted_packages(docker_installed=False, browser_installed=False)
    assert {"docker.io", "chromium"} <= set(neither)
    assert set(both) <= set(neither)


def test_google_chrome_is_found(bin_dir: Path) -> None:
    """GitHub's Ubuntu runners: Google Chrome is used."""
    chrome = executable(bin_dir / "google-chrome")
    assert bootstrap.find_browser() == chrome


def test_snap_stub_is_skipped(bin_dir: Path) -> None:
    """Ubuntu's chromium-browser that only runs the snap is passed over for a real browser."""
    executable(bin_dir / "chromium-browser", SNAP_STUB)
    chrome = executable(bin_dir / "google-chrome-stable")
    assert bootstrap.find_browser() == chrome


def test_only_a_snap_stub_means_no_browser(bin_dir: Path) -> None:
    """With the stub alone, the bootstrap installs Debian's chromium."""
    executable(bin_dir / "chromium-browser", SNAP_STUB)
    assert bootstrap.find_browser() is None


def test_debian_chromium_launcher_is_used(bin_dir: Path) -> None:
    """Debian's chromium is a shell launcher too, but a real one; it comes first."""
    executable(bin_dir / "google-chrome")
    chromium = executable(bin_dir / "chromium", "#!/bin/sh\nexec /usr/lib/chromium/chromium\n")
    assert bootstrap.find_browser() == chromium


def test_chromium_path_wins(bin_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A browser named in CHROMIUM_PATH is used as it is."""
    executable(bin_dir / "chromium")
    chosen = executable(bin_dir.parent / "elsewhere" / "chrome")
    monkeypatch.setenv("CHROMIUM_PATH", str(chosen))
    assert bootstrap.find_browser() == chosen


def test_browser_is_exported_to_later_steps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CHROMIUM_PATH reaches tox from here, and later workflow steps through GITHUB_ENV."""
    github_env = tmp_path / "github_env"
    github_env.write_text("EARLIER=1\n")
    monkeypatch.setenv("GITHUB_ENV", str(github_env))
    monkeypatch.setenv("CHROMIUM_PATH", "")  # restored after the test
    bootstrap.export_browser(Path("/usr/bin/google-chrome"))
    assert os.environ["CHROMIUM_PATH"] == "/usr/bin/google-chrome"
    assert github_env.read_text() == "EARLIER=1\nCHROMIUM_PATH=/usr/bin/google-chrome\n"
