"""The machines of the local topology, created and destroyed with Terraform.

Systemd "VM" containers lb, web1..N, llm1..N, db and a Pebble ACME server on one Docker network.
Everything generated (SSH key, Pebble's HTTPS CA and certificate, Terraform state, the Ansible
inventory) lives in the state folder, never in the clone.

Settings (environment), fixed at the first `up` of a state folder so that `down` always removes
what was created: OLLAMA_QA_LOCAL_PREFIX (container and network name prefix, ollama-qa-local),
OLLAMA_QA_LOCAL_SUBNET (172.30.57.0/24), OLLAMA_QA_WEB_COUNT (2), OLLAMA_QA_LLM_INSTALL_METHODS
(one ollama_install_method per LLM machine, comma-separated, e.g. binary,simulator; unset takes
the llm_machines default of environments/local).
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from deploykit.state import REPO_ROOT
from lifecycle import images
from lifecycle.host import LifecycleError, log, output, run, status, succeeds

ENV_DIR = REPO_ROOT / "infrastructure/terraform/environments/local"
ACME_HOSTNAME = "acme.ollama-qa.test"
SSH_WAIT_SECONDS = 180


def ensure_ssh_key(state: Path) -> None:
    key = state / "id_ed25519"
    if not key.is_file():
        log("generating the SSH key Ansible logs in with")
        comment = "ollama-qa local topology"
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", key])
    key.chmod(0o600)


def _openssl(*parts: list[str | Path]) -> None:
    """openssl with its progress output left out; a failure still stops the step."""
    argv = ["openssl", *(arg for part in parts for arg in part)]
    run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def acme_certificate_is_current(directory: Path) -> bool:
    """Kept while it chains to the CA, names the endpoint and has a day left: a new one would
    need Pebble restarted and every machine to trust the new CA."""
    cert, ca = directory / "cert.pem", directory / "ca.pem"
    if not cert.is_file():
        return False
    if not succeeds(["openssl", "verify", "-CAfile", ca, cert]):
        return False
    if not succeeds(["openssl", "x509", "-in", cert, "-noout", "-checkend", "86400"]):
        return False
    names = output(
        ["openssl", "x509", "-in", cert, "-noout", "-ext", "subjectAltName"], check=False
    )
    return f"DNS:{ACME_HOSTNAME}" in names


def ensure_acme_certificate(state: Path) -> None:
    """Pebble from Debian has no certificate for its own HTTPS endpoint: a small CA signs one for
    the name the machines use, and certbot is told to trust that CA (acme_ca_bundle_file)."""
    directory = state / "acme"
    if acme_certificate_is_current(directory):
        return
    log(f"generating Pebble's HTTPS CA and certificate for {ACME_HOSTNAME}")
    directory.mkdir(exist_ok=True)
    directory.chmod(0o700)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ca_extensions = ["basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign"]
    _openssl(
        ["req", "-x509", *ec, "-days", "365", "-subj", "/CN=ollama-qa local ACME endpoint CA"],
        *(["-addext", extension] for extension in ca_extensions),
        ["-keyout", directory / "ca.key", "-out", directory / "ca.pem"],
    )
    _openssl(
        ["req", *ec, "-subj", f"/CN={ACME_HOSTNAME}"],
        ["-keyout", directory / "key.pem", "-out", directory / "cert.csr"],
    )
    extensions = (
        f"subjectAltName=DNS:{ACME_HOSTNAME}\n"
        "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".ext") as extfile:
        extfile.write(extensions)
        extfile.flush()
        _openssl(
            ["x509", "-req", "-in", directory / "cert.csr", "-CA", directory / "ca.pem"],
            ["-CAkey", directory / "ca.key", "-CAcreateserial", "-days", "365"],
            ["-out", directory / "cert.pem", "-extfile", extfile.name],
        )
    for leftover in ("cert.csr", "ca.srl"):
        (directory / leftover).unlink(missing_ok=True)
    (directory / "ca.key").chmod(0o600)
    (directory / "key.pem").chmod(0o600)


def tfvars(state: Path, previous: dict, vm_image: str, acme_image: str) -> dict:
    """The Terraform variables: the settings of an earlier `up` of this state folder win."""
    methods = os.environ.get("OLLAMA_QA_LLM_INSTALL_METHODS", "").strip()
    llm_machines = previous.get("llm_machines") or (
        [{"install_method": method.strip()} for method in methods.split(",")] if methods else None
    )
    settings = {
        "name_prefix": previous.get("name_prefix")
        or os.environ.get("OLLAMA_QA_LOCAL_PREFIX", "ollama-qa-local"),
        "subnet_cidr": previous.get("subnet_cidr")
        or os.environ.get("OLLAMA_QA_LOCAL_SUBNET", "172.30.57.0/24"),
        "web_count": previous.get("web_count") or int(os.environ.get("OLLAMA_QA_WEB_COUNT", "2")),
        "vm_image": vm_image,
        "acme_image": acme_image,
        "ssh_public_key_file": f"{state}/id_ed25519.pub",
        "ssh_private_key_file": f"{state}/id_ed25519",
        "acme_hostname": ACME_HOSTNAME,
        "acme_certificate_file": f"{state}/acme/cert.pem",
        "acme_private_key_file": f"{state}/acme/key.pem",
        "acme_ca_file": f"{state}/acme/ca.pem",
    }
    # Left out, environments/local's own default applies: the default is defined there only.
    if llm_machines is not None:
        settings["llm_machines"] = llm_machines
    return settings


def ensure_tfvars(state: Path, vm_image: str, acme_image: str) -> Path:
    path = state / "terraform.tfvars.json"
    previous = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(json.dumps(tfvars(state, previous, vm_image, acme_image), indent=2))
    return path


def terraform_env(state: Path) -> dict[str, str]:
    """The environment that selects Terraform and its providers (offline/prepare.sh), with the
    Terraform data of this state folder."""
    prepare = REPO_ROOT / "infrastructure/terraform/offline/prepare.sh"
    # prepare.sh prints shell exports; a shell evaluates them and reports the result.
    printed = output(["bash", "-c", 'eval "$("$0" --env)" && env -0', prepare])
    env = dict(line.split("=", 1) for line in printed.split("\0") if "=" in line)
    env["TF_DATA_DIR"] = str(state / ".terraform")
    return env


def terraform_output(env: dict[str, str], *args: str) -> str:
    return output(["terraform", f"-chdir={ENV_DIR}", *args], env=env)


def terraform_logged(env: dict[str, str], log_file: Path, *args: str) -> None:
    """Terraform with its output in `log_file`; a failure shows the end of it."""
    with log_file.open("w") as handle:
        returncode = status(["terraform", f"-chdir={ENV_DIR}", *args], env=env, stdout=handle)
    if returncode != 0:
        print("\n".join(log_file.read_text().splitlines()[-40:]), file=sys.stderr)
        raise LifecycleError(f"terraform {args[0]} failed (full log: {log_file})")


def init(env: dict[str, str], state: Path) -> None:
    backend = f"-backend-config=path={state}/terraform.tfstate"
    init_args = ("init", "-upgrade", "-input=false", "-no-color", backend)
    terraform_logged(env, state / "init.log", *init_args)


def wait_for_ssh(state: Path, addresses: list[str]) -> None:
    deadline = time.monotonic() + SSH_WAIT_SECONDS
    ssh = ["ssh", "-q", "-i", str(state / "id_ed25519"), "-o", "BatchMode=yes"]
    ssh += ["-o", "ConnectTimeout=3", "-o", "StrictHostKeyChecking=no"]
    ssh += ["-o", "UserKnownHostsFile=/dev/null"]
    for address in addresses:
        while not _answers([*ssh, f"debian@{address}", "true"]):
            if time.monotonic() >= deadline:
                raise LifecycleError(
                    f"{address} did not answer SSH as debian within {SSH_WAIT_SECONDS} s"
                )
            time.sleep(2)
        log(f"{address} answers SSH")


def _answers(argv: list[str]) -> bool:
    return status(argv, stdin=subprocess.DEVNULL) == 0


def fetch_acme_root(state: Path, address: str) -> None:
    """Pebble makes a new issuing root each time it starts; browsers and tests trust that one."""
    partial = state / "acme-root.pem.tmp"
    curl = ["curl", "-fsS", "--cacert", str(state / "acme/ca.pem")]
    curl += ["--resolve", f"{ACME_HOSTNAME}:15000:{address}"]
    curl += [f"https://{ACME_HOSTNAME}:15000/roots/0", "-o", str(partial)]
    for _ in range(30):
        if _answers(curl):
            partial.rename(state / "acme-root.pem")
            return
        time.sleep(1)
    raise LifecycleError("Pebble's management endpoint did not give its root certificate")


def up(state: Path) -> None:
    """Create the machines recorded for `state` (or new ones) and write its inventory.yml."""
    state.mkdir(parents=True, exist_ok=True)
    state = state.resolve()
    state.chmod(0o700)
    env = terraform_env(state)
    vm_image, acme_image = images.ensure("vm"), images.ensure("acme")
    ensure_ssh_key(state)
    ensure_acme_certificate(state)
    variables = ensure_tfvars(state, vm_image, acme_image)

    log(f"terraform apply of the local topology (state in {state})")
    init(env, state)
    apply = ["apply", "-input=false", "-no-color", "-auto-approve", f"-var-file={variables}"]
    terraform_logged(env, state / "apply.log", *apply)

    addresses = json.loads(terraform_output(env, "output", "-json", "addresses"))
    machines = [addresses["lb"], *addresses["web"], *addresses["llm"], addresses["db"]]
    wait_for_ssh(state, machines)
    fetch_acme_root(state, addresses["acme"])
    partial = state / "inventory.yml.tmp"
    partial.write_text(terraform_output(env, "output", "-raw", "ansible_inventory"))
    partial.rename(state / "inventory.yml")
    log(f"inventory written to {state / 'inventory.yml'}")


def down(state: Path) -> None:
    """Destroy what `up` created for `state`; the SSH key and Pebble's certificates stay, so that
    the next `up` reuses them."""
    if not state.is_dir():
        log(f"no state folder {state}: nothing to destroy")
        return
    state = state.resolve()
    variables = state / "terraform.tfvars.json"
    if not variables.is_file():
        log(f"no topology recorded in {state}: nothing to destroy")
        return
    prefix = json.loads(variables.read_text())["name_prefix"]
    env = terraform_env(state)
    log(f"terraform destroy of the local topology {prefix}")
    init(env, state)
    destroy = ["destroy", "-input=false", "-no-color", "-auto-approve", f"-var-file={variables}"]
    terraform_logged(env, state / "destroy.log", *destroy)

    # Prove the promise instead of trusting it: nothing labelled with this topology may remain.
    label = f"label=ollama-qa.topology={prefix}"
    leftovers = output(["docker", "ps", "-aq", "--filter", label]).split()
    if leftovers:
        raise LifecycleError(f"containers of {prefix} are still there: {' '.join(leftovers)}")
    if succeeds(["docker", "network", "inspect", f"{prefix}-net"]):
        raise LifecycleError(f"network {prefix}-net is still there")
    for name in ("inventory.yml", "terraform.tfstate", "terraform.tfstate.backup"):
        (state / name).unlink(missing_ok=True)
    log(f"local topology {prefix} removed")
