"""The app on 127.0.0.1:8000 against the simulator on 127.0.0.1:11434, login off: the quickest
loop for working on the page. Conversations are kept in an SQLite file under the cache (`webui
serve` brings it to the app's schema), so no database server is needed. Ctrl-C stops both."""

import os
import shutil

from deploykit.state import REPO_ROOT, cache_dir
from lifecycle.host import inputs_hash, run, start, status


def ensure_dev_venv() -> str:
    """Editable, so the code is the clone's; rebuilt when pyproject.toml (the dependencies)
    changes. Returns its python."""
    venv = cache_dir() / "dev-venv"
    stamp = venv / f".inputs-{inputs_hash('pyproject.toml')}"
    if not stamp.exists():
        shutil.rmtree(venv, ignore_errors=True)
        run(["python3", "-m", "venv", venv])
        run([venv / "bin/pip", "install", "-q", "-e", f"{REPO_ROOT}[simulator]"])
        stamp.touch()
    return str(venv / "bin/python")


def serve() -> int:
    python = ensure_dev_venv()
    simulator_argv = [python, "-m", "ollama_sim", "--host", "127.0.0.1", "--port", "11434"]
    simulator = start(simulator_argv)
    try:
        cache_dir().mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "WEBUI_REQUIRE_LOGIN": "false",
            "WEBUI_OLLAMA_URL": "http://127.0.0.1:11434",
            "WEBUI_DATABASE_URL": f"sqlite:///{cache_dir() / 'dev-webui.sqlite3'}",
        }
        app = [python, "-m", "webui", "serve", "--host", "127.0.0.1", "--port", "8000"]
        return status(app, env=env)
    finally:
        simulator.terminate()
        simulator.wait()
