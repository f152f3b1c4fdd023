"""Each port is reachable from exactly the machines that need it, tried from the machines."""

import pytest
import testinfra
from conftest import address, inventory, machine, var

LB, WEBS, LLM, DB = (inventory().hosts(group) for group in ("lb", "web", "llm", "db"))
PATH = ("source", "target", "port_var", "reachable")


def _paths() -> list[tuple[str, str, str, bool]]:
    """(source, target, port variable, expected reachable) for the web and LLM machines' ports."""
    paths = []
    for web in WEBS:
        paths += [
            (src, web, "webapp_port", src in LB) for src in LB + LLM + WEBS + DB if src != web
        ]
    for llm in LLM:
        paths += [(src, llm, "llm_gateway_port", src in WEBS) for src in LB + WEBS + DB]
        paths += [(src, llm, "ollama_port", False) for src in LB + WEBS]
    return paths


# The database's port apart, so that a fault of the db machine is tried in seconds.
def _database_paths() -> list[tuple[str, str, str, bool]]:
    return [(src, db, "postgresql_port", src in WEBS) for db in DB for src in LB + LLM + WEBS]


def _connects(source: str, target: str, port_var: str, reachable: bool) -> None:
    port = var(target, port_var)
    origin = testinfra.get_host(machine(source))
    attempt = origin.run(f"timeout 3 bash -c '</dev/tcp/{address(target)}/{port}'")
    where = f"{source} -> {target}:{port} ({port_var})"
    if reachable:
        assert attempt.rc == 0, f"{where} is closed, want open: {attempt.stderr.strip()}"
    else:
        assert attempt.rc != 0, f"{where} is open, want closed"


@pytest.mark.parametrize(PATH, _paths(), ids=str)
def test_port_reachability(source, target, port_var, reachable):
    """A TCP connection succeeds only where the topology needs it to."""
    _connects(source, target, port_var, reachable)


@pytest.mark.parametrize(PATH, _database_paths(), ids=str)
def test_database_port_reachability(source, target, port_var, reachable):
    """PostgreSQL's port is open to the web machines and to no other machine."""
    _connects(source, target, port_var, reachable)
