"""Role variables as Ansible resolves them: defaults, inventory, the site's group_vars, templates.

These run ansible-playbook for real, with the repository's roles, on an inventory of hosts that
are never contacted (the report runs on the controller).
"""

import json
from pathlib import Path

import pytest

from deploykit import variables

# A load balancer and two web machines; one web machine sets its own port.
INVENTORY = {
    "lb": {"hosts": {"balancer": {"private_address": "192.0.2.10"}}},
    "web": {
        "hosts": {
            "app1": {"private_address": "192.0.2.21"},
            "app2": {"private_address": "192.0.2.22", "webapp_port": 9000},
        }
    },
}
GROUP_VARS = """
webapp_container_name: "{{ public_hostname | replace('.', '-') }}"
webapp_ollama_password: "{{ vault_llm_gateway_token }}"
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An inventory, and a playbook folder whose group_vars name the web group."""
    tmp_path = tmp_path_factory.mktemp("site")
    inventory = tmp_path / "inventory.json"
    tree = {"all": {"vars": {"public_hostname": "www.example.test"}, "children": INVENTORY}}
    inventory.write_text(json.dumps(tree))
    (tmp_path / "playbooks" / "group_vars").mkdir(parents=True)
    (tmp_path / "playbooks" / "group_vars" / "web.yml").write_text(GROUP_VARS)
    return inventory, tmp_path / "playbooks"


@pytest.fixture(scope="module")
def resolved(site: tuple[Path, Path]) -> variables.Variables:
    return variables.resolve(*site)


def test_inventory_overrides_the_role_default(resolved: variables.Variables) -> None:
    """A host's own value wins; its neighbour keeps the role's default."""
    assert resolved.get("app2", "webapp_port") == 9000
    assert isinstance(resolved.get("app1", "webapp_port"), int)
    assert resolved.get("app1", "webapp_port") != 9000


def test_site_group_vars_apply_to_their_group(resolved: variables.Variables) -> None:
    """group_vars beside the playbook apply as in site.yml, templated by Ansible."""
    assert resolved.get("app1", "webapp_container_name") == "www-example-test"
    assert resolved.get("balancer", "webapp_container_name") != "www-example-test"


def test_templates_read_other_hosts(resolved: variables.Variables) -> None:
    """A default built from the inventory (groups, hostvars) comes out as Ansible builds it."""
    servers = resolved.get("balancer", "haproxy_backend_servers")
    assert [(s["name"], s["address"]) for s in servers] == [
        ("app1", "192.0.2.21"),
        ("app2", "192.0.2.22"),
    ]
    assert resolved.get("balancer", "private_address") == "192.0.2.10"


def test_values_keep_their_types(resolved: variables.Variables) -> None:
    """Integer keys stay integers (HAProxy's error responses are keyed by status)."""
    assert 503 in resolved.any("haproxy_error_responses")


def test_unresolvable_values_are_left_out(resolved: variables.Variables) -> None:
    """A value that needs a secret never given to the run is absent, not a guess."""
    assert "webapp_ollama_password" not in resolved.of("app1")
    with pytest.raises(KeyError, match="webapp_ollama_password"):
        resolved.get("app1", "webapp_ollama_password")


def test_without_a_playbook_folder_only_the_inventory_applies(site: tuple[Path, Path]) -> None:
    """playbook_dir=None (Molecule): no group_vars beyond the inventory's own."""
    inventory, _ = site
    resolved = variables.resolve(inventory, playbook_dir=None)
    assert resolved.get("app1", "webapp_container_name") != "www-example-test"
    assert resolved.get("app2", "webapp_port") == 9000


def test_any_takes_the_first_host_that_has_it(resolved: variables.Variables) -> None:
    """any() answers for a value the same everywhere, and refuses a name no host has."""
    assert resolved.any("public_hostname") == "www.example.test"
    with pytest.raises(KeyError):
        resolved.any("no_such_variable")


def test_resolved_once_per_inventory(site: tuple[Path, Path]) -> None:
    """A second resolve() of the same inventory and folder runs nothing again."""
    assert variables.resolve(*site) is variables.resolve(*site)


def test_broken_inventory_is_reported(tmp_path: Path) -> None:
    """ansible-playbook's failure is an error that names the inventory."""
    broken = tmp_path / "broken.yml"
    broken.write_text("all:\n  hosts:\n    web1:\n      webapp_port: '{{ undefined_thing'\n")
    with pytest.raises(RuntimeError, match=r"broken\.yml"):
        variables.resolve(broken, playbook_dir=None)
