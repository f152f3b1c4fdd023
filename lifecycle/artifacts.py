"""What the roles install and no registry provides, gathered in one Ansible vars file.

The application image as a `docker save` archive and the simulator wheel; for LLM machines that
cannot download the upstream release or pull models, also Ollama built from source and the
local chat model.
"""

import shutil
import subprocess
import sys
from pathlib import Path

from deploykit.state import REPO_ROOT
from lifecycle import images, ollama
from lifecycle.host import inputs_hash, log, run


def image_archive(outdir: Path) -> tuple[str, Path]:
    image = images.ensure("webui")
    archive = outdir / f"webui-{image.rpartition(':')[2]}.tar"
    if not (archive.is_file() and archive.stat().st_size > 0):
        log(f"saving {image} to {archive}")
        for stale in outdir.glob("webui-*.tar"):
            stale.unlink()
        partial = archive.with_name(archive.name + ".partial")
        run(["docker", "save", image, "-o", partial])
        partial.rename(archive)
    return image, archive


def project_wheel(outdir: Path) -> Path:
    wheel_dir = outdir / "wheels" / inputs_hash("src", "pyproject.toml")
    wheels = sorted(wheel_dir.glob("*.whl"))
    if not wheels:
        log("building the project wheel")
        shutil.rmtree(outdir / "wheels", ignore_errors=True)
        pip_wheel = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", wheel_dir]
        run([*pip_wheel, REPO_ROOT], stdout=subprocess.DEVNULL)
        wheels = sorted(wheel_dir.glob("*.whl"))
    return wheels[0]


def build(outdir: Path, *, with_ollama: bool) -> Path:
    """Ensure every artifact and write OUTDIR/artifacts.yml naming them; return its path."""
    outdir.mkdir(parents=True, exist_ok=True)
    image, archive = image_archive(outdir)
    variables = {
        "webapp_image": image,
        "webapp_image_archive": archive,
        "ollama_simulator_wheel": project_wheel(outdir),
    }
    if with_ollama:
        variables["ollama_binary_file"] = ollama.binary()
        gguf = ollama.model()
        variables["ollama_chat_model_gguf"] = gguf
        # The GGUF's folder is named for its sha256, which ollama.model() checked; the role
        # checks the copy.
        variables["ollama_chat_model_sha256"] = gguf.parent.name
    path = outdir / "artifacts.yml"
    partial = path.with_name(path.name + ".partial")
    partial.write_text("---\n" + "".join(f'{k}: "{v}"\n' for k, v in variables.items()))
    partial.rename(path)
    return path
