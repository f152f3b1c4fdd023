"""Where the local topology keeps its state, by the same rules as the lifecycle scripts.

Standard library only: the lifecycle entry point imports it with the system's python3, before
any virtual environment exists.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
ANSIBLE_DIR = REPO_ROOT / "infrastructure" / "ansible"


def cache_dir() -> Path:
    """$OLLAMA_QA_CACHE, else ollama-qa under $XDG_CACHE_HOME (default ~/.cache)."""
    if os.environ.get("OLLAMA_QA_CACHE"):
        return Path(os.environ["OLLAMA_QA_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "ollama-qa"


def state_dir() -> Path:
    """$OLLAMA_QA_STATE, else the local topology's folder in the cache."""
    if os.environ.get("OLLAMA_QA_STATE"):
        return Path(os.environ["OLLAMA_QA_STATE"]).expanduser()
    return cache_dir() / "local-topology"


def local_inventory() -> Path:
    """The inventory `make up` writes for the local topology."""
    return state_dir() / "inventory.yml"
