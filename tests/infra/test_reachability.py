"""Each port is reachable from exactly the machines that need it, tried from the machines."""

import pytest
import testinfra
from conftest import address, inventory, machine, var

LB, WEBS, LLM, DB = (inventory().hosts(group) for group in ("lb", "web", "llm", "db"))


def _paths() -> list[tuple[str, str, str, bool]]:
    """(source, target, port variable, expected reachable) for every pair that matters."""
    paths = []
    for web in WEBS:
        paths += [
            (src, web, "webapp_port", src in LB) for src in LB + LLM + WEBS + DB if src != web
        ]
    for llm in LLM:
        paths += [(src, llm, "llm_gateway_port", src in WEBS) for src in LB + WEBS + DB]
        paths += [(src, llm, "ollama_port", False) for src in LB + WEBS]
    for db in DB:
        paths += [(src, db, "postgresql_port", src in WEBS) for src in LB + LLM + WEBS]
    return paths


@pytest.mark.parametrize(
    ("source", "target", "port_var", "reachable"),
    _paths(),
    ids=lambda value: str(value),
)
def test_port_reachability(source, target, port_var, reachable):
    """A TCP connection succeeds only where the topology needs it to."""
    port = var(target, port_var)
    origin = testinfra.get_host(machine(source))
    attempt = origin.run(f"timeout 3 bash -c '</dev/tcp/{address(target)}/{port}'")
    assert (attempt.rc == 0) is reachable, attempt.stderr
