"""Prepare a machine to run the local topology and the test suite: Debian packages, a Docker
engine that answers, a Chromium or Chrome, the tox and Ansible virtualenv, and Terraform.

Idempotent: every step checks before it acts, so it is cheap to run before each job. A Docker
or a browser that is already installed is used as it is (GitHub's Ubuntu runners ship Docker CE
and Google Chrome, and their `chromium` package is a snap stub).
"""

import os
import shutil
import subprocess
import time
from pathlib import Path

from deploykit.state import REPO_ROOT, cache_dir
from lifecycle.host import (
    LifecycleError,
    as_root,
    ensure_debian_packages,
    inputs_hash,
    log,
    run,
    start,
    succeeds,
    tools_venv,
)

# postgresql: its server binaries start throwaway databases for the unit tests
# (pytest-postgresql). debian-archive-keyring: debootstrap checks Debian's signatures with it,
# which an Ubuntu machine lacks. shellcheck: actionlint checks the workflow's scripts with it.
PACKAGES = (
    "debootstrap",
    "debian-archive-keyring",
    "libnss3-tools",
    "haproxy",
    "apache2-utils",
    "openssh-client",
    "testssl.sh",
    "sqlite3",
    "iproute2",
    "curl",
    "ca-certificates",
    "python3-venv",
    "postgresql",
    "shellcheck",
)

# In the order they are preferred; the first that is a real browser is used.
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
DOCKER_START_SECONDS = 60


def is_snap_stub(path: Path) -> bool:
    """Whether `path` is Ubuntu's transitional launcher that only runs (or asks for) the snap,
    which Playwright cannot drive."""
    resolved = path.resolve()
    if resolved.parts[:2] == ("/", "snap"):
        return True
    with resolved.open("rb") as handle:
        head = handle.read(4096)
    return head.startswith(b"#!") and b"/snap/" in head


def find_browser() -> Path | None:
    """CHROMIUM_PATH when it names an executable, else the first installed browser of BROWSERS."""
    chosen = os.environ.get("CHROMIUM_PATH")
    if chosen and os.access(chosen, os.X_OK):
        return Path(chosen)
    for name in BROWSERS:
        found = shutil.which(name)
        if found and not is_snap_stub(Path(found)):
            return Path(found)
    return None


def docker_answers() -> bool:
    return succeeds(["docker", "info"])


def systemd_runs() -> bool:
    if shutil.which("systemctl") is None:
        return False
    return succeeds(["systemctl", "is-system-running"])


def start_docker() -> None:
    """Start the engine through systemd, or in the background where there is no systemd."""
    if systemd_runs():
        run(as_root(["systemctl", "start", "docker"]))
    else:
        daemon_log = cache_dir() / "dockerd.log"
        log(f"starting dockerd in the background (log: {daemon_log})")
        daemon_log.parent.mkdir(parents=True, exist_ok=True)
        with daemon_log.open("ab") as output:
            start(
                as_root(["dockerd"]),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                start_new_session=True,
            )
    deadline = time.monotonic() + DOCKER_START_SECONDS
    while not docker_answers():
        if time.monotonic() >= deadline:
            raise LifecycleError(f"the Docker engine did not start; see {cache_dir()}/dockerd.log")
        time.sleep(1)


def ensure_tools_venv() -> None:
    """tox for the checks, Ansible for the deployment; keyed on pyproject.toml, which pins both."""
    venv = tools_venv()
    stamp = venv / f".inputs-{inputs_hash('pyproject.toml')}"
    if stamp.exists():
        return
    log(f"creating the tools virtualenv in {venv}")
    shutil.rmtree(venv, ignore_errors=True)
    run(["python3", "-m", "venv", venv])
    pip = [venv / "bin/pip", "install", "-q"]
    run([*pip, "--upgrade", "pip>=25.1"])
    run([*pip, "tox>=4.22", "--group", "ansible"], cwd=REPO_ROOT)
    stamp.touch()


def export_browser(browser: Path) -> None:
    """CHROMIUM_PATH for the tests started from here and, on GitHub Actions, for later steps."""
    os.environ["CHROMIUM_PATH"] = str(browser)
    github_env = os.environ.get("GITHUB_ENV")
    if github_env:
        with open(github_env, "a") as handle:
            handle.write(f"CHROMIUM_PATH={browser}\n")


def wanted_packages(*, docker_installed: bool, browser_installed: bool) -> list[str]:
    """Debian's Docker and Chromium only where no Docker or browser is installed: next to
    Docker CE, docker.io conflicts; next to Chrome, it is not needed."""
    packages = list(PACKAGES)
    if not docker_installed:
        packages.append("docker.io")
    if not browser_installed:
        packages.append("chromium")
    return packages


def bootstrap() -> Path:
    """Ensure everything; return the browser the Playwright tests drive."""
    browser = find_browser()
    docker_installed = shutil.which("docker") is not None
    packages = wanted_packages(docker_installed=docker_installed, browser_installed=bool(browser))
    ensure_debian_packages(packages)
    browser = browser or find_browser()
    if browser is None:
        raise LifecycleError(f"no usable browser after installing chromium (tried {BROWSERS})")
    log(f"browser: {browser}")
    export_browser(browser)

    if not docker_answers():
        start_docker()
    ensure_tools_venv()
    run([REPO_ROOT / "infrastructure/terraform/offline/prepare.sh"])
    return browser
