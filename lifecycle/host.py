"""What every step shares: messages, commands, Debian packages, input hashes and timings."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from deploykit.state import REPO_ROOT, cache_dir, state_dir


class LifecycleError(Exception):
    """A step cannot go on; the message says why and what to look at."""


def log(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


def tools_venv() -> Path:
    """tox and Ansible, keyed on pyproject.toml (see bootstrap)."""
    return cache_dir() / "tools-venv"


def tool(name: str) -> str:
    return str(tools_venv() / "bin" / name)


Argv = Sequence[str | Path]


def _finish(argv: Argv, *, check: bool, **options: Any) -> subprocess.CompletedProcess[str]:
    """The one place that runs a program to its end: an argument list, never a shell line."""
    return subprocess.run([str(arg) for arg in argv], check=check, text=True, **options)  # noqa: S603


def run(argv: Argv, **options: Any) -> None:
    """Run a command whose failure stops the step; its output is shown unless redirected."""
    _finish(argv, check=True, **options)


def output(argv: Argv, *, check: bool = True, **options: Any) -> str:
    """What a command prints on stdout (its stderr is shown); a failure stops the step."""
    return _finish(argv, check=check, stdout=subprocess.PIPE, **options).stdout


def status(argv: Argv, **options: Any) -> int:
    """The exit status of a command whose failure the caller handles."""
    return _finish(argv, check=False, **options).returncode


def succeeds(argv: Argv) -> bool:
    """Whether a command exits with 0; its output is not shown."""
    return status(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0


def start(argv: Argv, **options: Any) -> subprocess.Popen:
    """Start a command that runs beside this process."""
    return subprocess.Popen([str(arg) for arg in argv], **options)  # noqa: S603


def as_root(argv: Sequence[str]) -> list[str]:
    return list(argv) if os.geteuid() == 0 else ["sudo", *argv]


def missing_debian_packages(packages: Iterable[str]) -> list[str]:
    missing = []
    for package in packages:
        query = ["dpkg-query", "-W", "-f=${Status}", package]
        if "install ok installed" not in output(query, check=False, stderr=subprocess.DEVNULL):
            missing.append(package)
    return missing


def ensure_debian_packages(packages: Iterable[str]) -> None:
    """Install those of `packages` that are not installed yet."""
    missing = missing_debian_packages(packages)
    if not missing:
        return
    log(f"installing Debian packages: {' '.join(missing)}")
    run(as_root(["apt-get", "update", "-qq"]), stdout=subprocess.DEVNULL)
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing]
    run(
        as_root(["env", "DEBIAN_FRONTEND=noninteractive", *install]),
        stdout=subprocess.DEVNULL,
    )


def inputs_hash(*paths: str) -> str:
    """Hash of the files under `paths` (relative to the repository), for cache keys.

    Each file's sha256 and path, sorted by path, hashed again: the same key as
    `find PATHS -type f | sort | xargs sha256sum | sha256sum` in the C locale.
    """
    files = []
    for path in paths:
        root = REPO_ROOT / path
        if is_regular_file(root):
            files.append(path)
            continue
        for directory, _, names in os.walk(root):
            files.extend(
                str((Path(directory) / name).relative_to(REPO_ROOT))
                for name in names
                if is_regular_file(Path(directory) / name)
            )
    listing = "".join(
        f"{hashlib.sha256((REPO_ROOT / name).read_bytes()).hexdigest()}  {name}\n"
        for name in sorted(files, key=os.fsencode)
    )
    return short_hash(listing)


def is_regular_file(path: Path) -> bool:
    """What `find -type f` lists: symbolic links are not followed."""
    return path.is_file() and not path.is_symlink()


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def record_timing(name: str, seconds: float) -> None:
    """Keep how long a step took beside the topology's state, for the benchmark's report."""
    path = state_dir() / "timings.json"
    timings = json.loads(path.read_text()) if path.exists() else {}
    timings[name] = f"{int(seconds)} s"
    path.write_text(json.dumps(timings, indent=2) + "\n")


def remove_tree(path: Path) -> None:
    """Remove a folder that a build left read-only (Go's module cache copies are)."""
    for directory, _, _ in os.walk(path):
        os.chmod(directory, 0o700)
    shutil.rmtree(path, ignore_errors=True)
