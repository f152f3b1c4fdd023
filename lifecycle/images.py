"""The container images of the local topology and the Molecule scenarios, built with no registry.

A Debian base comes from debootstrap; the other images are built on it. Each image is tagged
with a hash of its inputs, so an unchanged image is never rebuilt and a changed one always is.
"""

import glob
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from deploykit.state import REPO_ROOT
from lifecycle.host import inputs_hash, log, output, run, short_hash, start, succeeds

DEBIAN_SUITE = "bookworm"

# name -> (folder of its Dockerfile, other repository paths its build context needs)
IMAGES = {
    "vm": ("infrastructure/images/vm", ()),
    "acme": ("infrastructure/images/acme", ()),
    "webui": ("infrastructure/images/webui", ("src", "pyproject.toml", "README.md")),
}
TOPOLOGY = "infrastructure/topology.yml"


def topology_port(name: str) -> str:
    """A port of infrastructure/topology.yml (a flat `name: number` line; no YAML parser here,
    where only the standard library is installed)."""
    found = re.search(
        rf"^\s+{re.escape(name)}:\s*(\d+)\s*$", (REPO_ROOT / TOPOLOGY).read_text(), re.M
    )
    if not found:
        raise SystemExit(f"{TOPOLOGY} has no port {name}")
    return found.group(1)


def build_args(name: str) -> list[str]:
    """Build arguments an image takes from the one source of cross-layer facts."""
    if name == "webui":
        # The image tests its Apache configuration on the port the deployment gives it.
        return ["--build-arg", f"APACHE_LISTEN_PORT={topology_port('web_app')}"]
    return []


def exists(tag: str) -> bool:
    return succeeds(["docker", "image", "inspect", tag])


def ensure_base() -> str:
    """The Debian base image; keyed on its recipe, the debootstrap options."""
    options = ["--variant=minbase", DEBIAN_SUITE]
    tag = f"ollama-qa/debian:{DEBIAN_SUITE}-{short_hash(' '.join(options))}"
    if exists(tag):
        return tag
    mirror = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
    with tempfile.TemporaryDirectory() as rootfs:
        log(f"debootstrapping Debian {DEBIAN_SUITE} into {rootfs}")
        debootstrap = ["debootstrap", *options, rootfs, mirror]
        run(debootstrap, stdout=subprocess.DEVNULL)
        # The temporary folder is 0700; a storage driver such as vfs would apply that to the
        # image's /.
        os.chmod(rootfs, 0o755)  # noqa: S103 - the image's / is world-readable, as on any system
        with start(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE) as tar:
            run(["docker", "import", "-", tag], stdin=tar.stdout, stdout=subprocess.DEVNULL)
        if tar.returncode != 0:
            raise subprocess.CalledProcessError(tar.returncode, tar.args)
    return tag


def ensure(name: str) -> str:
    """Build image `name` (a key of IMAGES, or "base") unless its inputs are unchanged."""
    if name == "base":
        return ensure_base()
    folder, extras = IMAGES[name]
    base = ensure_base()
    # The tag covers the build context and the base image it starts from.
    base_id = output(["docker", "image", "inspect", "-f", "{{.Id}}", base])
    key = short_hash(f"{inputs_hash(folder, *extras)}\n{base_id}\n{build_args(name)}")
    tag = f"ollama-qa/{name}:{key}"
    if exists(tag):
        return tag
    with tempfile.TemporaryDirectory() as directory:
        context = Path(directory)
        shutil.copytree(REPO_ROOT / folder, context, symlinks=True, dirs_exist_ok=True)
        # A host behind a TLS-intercepting proxy trusts its CA through
        # /usr/local/share/ca-certificates; images that fetch from PyPI trust what the host
        # trusts (extra-ca/ is never in the repository).
        (context / "extra-ca").mkdir(exist_ok=True)
        for certificate in glob.glob("/usr/local/share/ca-certificates/*.crt"):
            shutil.copy(certificate, context / "extra-ca")
        for extra in extras:
            source, target = REPO_ROOT / extra, context / extra
            if source.is_dir():
                shutil.copytree(source, target, symlinks=True)
            else:
                shutil.copy2(source, target)
        log(f"building {tag}")
        build = ["docker", "build", "-q", "--network", "host", "--build-arg", f"BASE_IMAGE={base}"]
        run([*build, *build_args(name), "-t", tag, context], stdout=subprocess.DEVNULL)
        run(["docker", "tag", tag, f"ollama-qa/{name}:latest"])
    return tag
