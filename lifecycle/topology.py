"""The local topology from nothing to the page served over HTTPS, its checks and its teardown.

Terraform creates the machines; the same Ansible playbook as in the cloud configures them over
SSH from the generated inventory.
"""

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from deploykit.state import ANSIBLE_DIR, cache_dir, local_inventory, state_dir
from lifecycle import access, artifacts, machines, secrets
from lifecycle.bootstrap import bootstrap
from lifecycle.host import LifecycleError, log, record_timing, start, status, tool

# A second converge of a converged topology must report none of these.
NOT_IDEMPOTENT = re.compile(r"changed=[1-9]|failed=[1-9]|unreachable=[1-9]")


def up() -> None:
    """Build what is missing, create the machines, converge them, print how to open the page."""
    bootstrap()
    started = time.monotonic()
    state = state_dir()
    state.mkdir(parents=True, exist_ok=True)
    state.chmod(0o700)
    artifacts.build(state / "artifacts", with_ollama=True)
    secrets.ensure(state / "secrets.yml")
    machines.up(state)
    returncode = converge()
    if returncode != 0:
        raise LifecycleError(f"the converge failed (ansible-playbook exited with {returncode})")
    record_timing("make up, after the host's set-up", time.monotonic() - started)
    access.show(state, on_terminal=sys.stdout.isatty())


def converge_command(extra: Sequence[str] = ()) -> tuple[list[str], dict[str, str]]:
    """site.yml against the generated inventory, exactly as an operator runs it against the
    cloud's, plus the local environment's vars, secrets and artifacts."""
    state = state_dir()
    argv = [tool("ansible-playbook"), "-i", str(local_inventory())]
    argv += ["-e", f"@{ANSIBLE_DIR / 'environments/local.yml'}"]
    argv += ["-e", f"@{state / 'artifacts/artifacts.yml'}", "-e", f"@{state / 'secrets.yml'}"]
    argv += [str(ANSIBLE_DIR / "site.yml"), *extra]
    return argv, {**os.environ, "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg")}


def converge(extra: Sequence[str] = (), *, output: Path | None = None) -> int:
    """Run the playbook; with `output`, its output is also kept in that file."""
    argv, env = converge_command(extra)
    if output is None:
        return status(argv, env=env)
    with (
        start(argv, env=env, stdout=subprocess.PIPE, text=True) as playbook,
        output.open("w") as kept,
    ):
        for line in playbook.stdout:
            sys.stderr.write(line)
            kept.write(line)
    return playbook.returncode


def recap_failures(converge_output: str) -> list[str]:
    """The lines of the PLAY RECAP that show a change, a failure or an unreachable machine."""
    _, found, recap = converge_output.partition("PLAY RECAP")
    if not found:
        return []
    return [line for line in recap.splitlines() if NOT_IDEMPOTENT.search(line)]


def second_converge() -> None:
    log("converging a second time: nothing may change")
    started = time.monotonic()
    kept = state_dir() / "second-converge.log"
    returncode = converge(output=kept)
    if returncode != 0:
        raise LifecycleError(f"the second converge failed (see {kept})")
    record_timing("second converge", time.monotonic() - started)
    failures = recap_failures(kept.read_text())
    if failures:
        print("\n".join(failures), file=sys.stderr)
        raise LifecycleError(
            "the second converge changed something or failed (see the recap above)"
        )
    log("second converge: 0 changed")


def down() -> None:
    """Destroy the machines and the network, then the state folder; cached images stay."""
    state = state_dir()
    if state.is_dir():
        machines.down(state)
        shutil.rmtree(state)
    log("the local topology is down")


def tox(*args: str) -> None:
    """tox's environments live in the cache, so that a fresh clone reuses them while the
    dependencies are unchanged."""
    argv = [tool("tox"), "--workdir", str(cache_dir() / "tox"), "run", *args]
    if status(argv) != 0:
        raise LifecycleError(f"tox run {' '.join(args)} failed")


def suites_env() -> None:
    """What the suites need to find and trust the topology, and the first user's password (its
    name they resolve from the inventory)."""
    state = state_dir()
    os.environ["OLLAMA_QA_INVENTORY"] = str(local_inventory())
    os.environ["OLLAMA_QA_CA_FILE"] = str(state / "acme-root.pem")
    password = secrets.read(state / "secrets.yml")["vault_webapp_admin_password"]
    os.environ["OLLAMA_QA_PASSWORD"] = password


def faults(arguments: Sequence[str]) -> None:
    """The fault catalogue (or the part ``arguments`` choose) against the local topology."""
    suites_env()
    tox("-e", "faults", "--", *arguments)


def test(*, deploy_only: bool = False) -> None:
    """Every check, from a fresh machine (the README's test command and CI's).

    1. static checks, unit tests, Playwright against the app, Terraform (`tox -m fast`), then
       Molecule;
    2. the local topology brought up as `make up` does (or reused if it is already up),
       converged a second time to prove idempotence, then testinfra and Playwright through
       HAProxy against it, TLS, headers and hostile input, and last the resilience tests, which
       stop and restart machines and services (`tox -m deploy`), and last the fault catalogue's
       fast subset, one operator's mistake per role (`tox -e faults -- --fast`). The benchmark
       prints numbers rather than passing or failing a run, so it is run by hand.

    `deploy_only` leaves out step 1, for a CI job after the jobs that ran it. A topology this
    run started is torn down at the end; OLLAMA_QA_KEEP=1 keeps it.
    """
    bootstrap()
    if not deploy_only:
        tox("-m", "fast")
        tox("-e", "molecule")

    inventory = local_inventory()
    started_here = not (inventory.is_file() and inventory.stat().st_size > 0)
    tear_down = started_here and os.environ.get("OLLAMA_QA_KEEP", "0") != "1"
    try:
        up()
        second_converge()
        suites_env()
        tox("-m", "deploy")
        # One fault per role, each injected, caught by its named test and restored.
        tox("-e", "faults", "--", "--fast")
    finally:
        if tear_down:
            down()
    log(f"all checks passed (topology started here: {str(started_here).lower()})")
