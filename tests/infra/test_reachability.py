"""Each port is reachable from exactly the machines that need it, tried from the machines."""

import pytest
import testinfra
from conftest import address, group_hosts, host_var, inventory_path

LB, WEBS, LLM = group_hosts("lb"), group_hosts("web"), group_hosts("llm")
DB = group_hosts("db")


def _paths() -> list[tuple[str, str, str, str, bool]]:
    """(source, target, port variable, role, expected reachable) for every pair that matters."""
    paths = []
    for web in WEBS:
        paths += [
            (src, web, "webapp_port", "webapp", src in LB)
            for src in LB + LLM + WEBS + DB
            if src != web
        ]
    for llm in LLM:
        paths += [
            (src, llm, "llm_gateway_port", "llm_gateway", src in WEBS) for src in LB + WEBS + DB
        ]
        paths += [(src, llm, "ollama_port", "ollama", False) for src in LB + WEBS]
    for db in DB:
        paths += [
            (src, db, "postgresql_port", "postgresql", src in WEBS) for src in LB + LLM + WEBS
        ]
    return paths


@pytest.mark.parametrize(
    ("source", "target", "port_var", "role", "reachable"),
    _paths(),
    ids=lambda value: str(value),
)
def test_port_reachability(source, target, port_var, role, reachable):
    """A TCP connection succeeds only where the topology needs it to."""
    port = host_var(target, port_var, role=role)
    origin = testinfra.get_host(f"ansible://{source}?ansible_inventory={inventory_path()}")
    attempt = origin.run(f"timeout 3 bash -c '</dev/tcp/{address(target)}/{port}'")
    assert (attempt.rc == 0) is reachable, attempt.stderr
