"""actionlint, the checker of GitHub workflows, built through the Go module proxy (GitHub's
release downloads may be out of reach) and cached outside the clone, keyed on its version."""

import os
import shutil
from pathlib import Path

from deploykit.state import REPO_ROOT, cache_dir
from lifecycle.host import LifecycleError, log, run, status

VERSION = "v1.7.12"
PACKAGE = "github.com/rhysd/actionlint/cmd/actionlint"
# Where Go's official tarball installs, for machines that did not put it on PATH.
GO_FALLBACK = Path("/usr/local/go/bin/go")


def go() -> str:
    found = shutil.which("go") or (str(GO_FALLBACK) if GO_FALLBACK.exists() else None)
    if found is None:
        raise LifecycleError("Go is needed to build actionlint (apt-get install golang-go)")
    return found


def ensure() -> Path:
    """The actionlint executable, built unless cached."""
    out = cache_dir() / "actionlint" / VERSION
    binary = out / "actionlint"
    if os.access(binary, os.X_OK):
        return binary
    log(f"building actionlint {VERSION} through the Go module proxy (cached in {out})")
    run([go(), "install", f"{PACKAGE}@{VERSION}"], env={**os.environ, "GOBIN": str(out)})
    return binary


def check() -> int:
    """Check every workflow of the repository; actionlint's exit status."""
    return status([ensure()], cwd=REPO_ROOT)
