"""The inventory as ansible-inventory reads it, and which inventory the suites are pointed at."""

from pathlib import Path

import pytest

from deploykit import inventory

INVENTORY = """
all:
  vars:
    public_hostname: www.example.test
  children:
    lb:
      hosts:
        lb1: {private_address: 10.0.0.10}
    web:
      hosts:
        web1: {private_address: 10.0.0.21}
        web2: {private_address: 10.0.0.22, webapp_port: 9000}
    frontends:
      children:
        lb:
        web:
"""


@pytest.fixture
def path(tmp_path: Path) -> Path:
    written = tmp_path / "inventory.yml"
    written.write_text(INVENTORY)
    return written


def test_hosts_of_groups_in_inventory_order(path: Path) -> None:
    """hosts() lists the groups' hosts in order, each once; an unknown group has none."""
    loaded = inventory.load(path)
    assert loaded.hosts("web") == ["web1", "web2"]
    assert loaded.hosts("lb", "web", "lb") == ["lb1", "web1", "web2"]
    assert loaded.hosts("db") == []


def test_child_groups_count_as_members(path: Path) -> None:
    """A group of groups holds its children's hosts, as Ansible's `hosts: frontends` would."""
    loaded = inventory.load(path)
    assert loaded.groups["frontends"] == ["lb1", "web1", "web2"]
    assert set(loaded.groups["all"]) == {"lb1", "web1", "web2"}


def test_hostvars_merge_group_and_host_variables(path: Path) -> None:
    """A host's variables are its own over its groups', as Ansible merges them."""
    loaded = inventory.load(path)
    assert loaded.hostvars("web2")["webapp_port"] == 9000
    assert loaded.hostvars("web2")["public_hostname"] == "www.example.test"
    assert "webapp_port" not in loaded.hostvars("web1")


def test_each_inventory_is_read_once(path: Path) -> None:
    """Loading the same path again gives the same object without running Ansible again."""
    assert inventory.load(path) is inventory.load(path)
    assert inventory.load(path).path == path


@pytest.fixture
def state(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty state folder, and no inventory named in the environment."""
    monkeypatch.delenv("OLLAMA_QA_INVENTORY", raising=False)
    monkeypatch.setenv("OLLAMA_QA_STATE", str(tmp_path / "state"))
    (tmp_path / "state").mkdir()
    return tmp_path / "state"


def test_named_inventory_comes_first(
    monkeypatch: pytest.MonkeyPatch, state: Path, path: Path
) -> None:
    """OLLAMA_QA_INVENTORY wins over the local topology's inventory."""
    (state / "inventory.yml").write_text(INVENTORY)
    monkeypatch.setenv("OLLAMA_QA_INVENTORY", str(path))
    assert inventory.inventory_from_env() == path


def test_local_topology_inventory_by_default(state: Path) -> None:
    """Without OLLAMA_QA_INVENTORY, the inventory `make up` wrote in the state folder."""
    (state / "inventory.yml").write_text(INVENTORY)
    assert inventory.inventory_from_env() == state / "inventory.yml"


def test_missing_local_inventory_says_what_to_do(state: Path) -> None:
    """No local topology: the error names `make up` and OLLAMA_QA_INVENTORY."""
    with pytest.raises(FileNotFoundError, match="make up") as missing:
        inventory.inventory_from_env()
    assert "OLLAMA_QA_INVENTORY" in str(missing.value)


def test_missing_named_inventory_is_an_error(
    monkeypatch: pytest.MonkeyPatch, state: Path, tmp_path: Path
) -> None:
    """A named inventory that does not exist is not replaced by the local one."""
    (state / "inventory.yml").write_text(INVENTORY)
    monkeypatch.setenv("OLLAMA_QA_INVENTORY", str(tmp_path / "nowhere.yml"))
    with pytest.raises(FileNotFoundError, match=r"nowhere\.yml"):
        inventory.inventory_from_env()
