"""The catalogue itself: well formed, covering every role, and naming tests that exist."""

import ast
from pathlib import Path

import pytest

from faults.definitions import CATALOGUE_DIR, ROLES_DIR, CatalogueError, load, select

REPO_ROOT = CATALOGUE_DIR.parent.parent


@pytest.fixture(scope="module")
def faults():
    return load()


def test_at_least_thirty_faults(faults):
    assert len(faults) >= 30, len(faults)


def test_every_role_has_faults_and_exactly_one_fast_one(faults):
    roles = {path.name for path in ROLES_DIR.iterdir() if path.is_dir()}
    fast = {}
    for fault in faults:
        fast.setdefault(fault.role, []).extend([fault.id] if fault.fast else [])
    assert set(fast) == roles, f"roles without faults: {sorted(roles - set(fast))}"
    assert {role: len(ids) for role, ids in fast.items()} == dict.fromkeys(roles, 1), fast


def test_every_named_test_exists(faults):
    functions: dict[str, set[str]] = {}
    for fault in faults:
        for node in fault.tests:
            path, name = node.split("::")
            if path not in functions:
                tree = ast.parse((REPO_ROOT / path).read_text())
                functions[path] = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
            assert name in functions[path], f"{fault.id}: {node} does not exist"


def test_no_fault_relies_on_the_resilience_suite(faults):
    # The catalogue must hold against a real deployment, and resilience tests stop machines.
    for fault in faults:
        assert not any(node.startswith("tests/resilience/") for node in fault.tests), fault.id


def write(folder: Path, text: str, role: str = "webapp") -> Path:
    (folder / f"{role}.yml").write_text(text)
    return folder


GOOD = """
- id: webapp-limit-loosened
  role: webapp
  summary: a limit loosened
  machine: web[1]
  files: [/etc/x]
  inject: sed -i s/5/500/ /etc/x
  live: grep -q 500 /etc/x
  tests: [tests/infra/test_web.py::test_limit]
"""


def test_a_good_entry_loads(tmp_path):
    (fault,) = load(write(tmp_path, GOOD))
    assert (str(fault.machine), fault.live_target, fault.fast) == ("web[1]", fault.machine, False)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("id: webapp-limit-loosened", "id: limit-loosened"), "start with the role's name"),
        (("machine: web[1]", "machine: gpu"), "is not a group"),
        (("tests: [tests/infra/test_web.py::test_limit]", "tests: [test_limit]"), "node ids"),
        (("  files: [/etc/x]\n", ""), "give the files it edits, or a restore command"),
        (("  summary: a limit loosened\n", ""), "missing field(s) ['summary']"),
        (("  live:", "  alive:"), "unknown field(s) ['alive']"),
    ],
)
def test_malformed_entries_are_refused_by_name(tmp_path, change, message):
    with pytest.raises(CatalogueError, match=r"webapp\.yml: ") as error:
        load(write(tmp_path, GOOD.replace(*change)))
    assert message in str(error.value)


def test_a_file_for_no_role_is_refused(tmp_path):
    with pytest.raises(CatalogueError, match="there is no role 'gpu'"):
        load(write(tmp_path, GOOD, role="gpu"))


def test_select_by_id_and_fast(tmp_path):
    faults = load(write(tmp_path, GOOD + GOOD.replace("loosened", "removed") + "  fast: true\n"))
    assert [f.id for f in select(faults, only=["webapp-limit-removed"], fast=False)] == [
        "webapp-limit-removed"
    ]
    assert [f.id for f in select(faults, only=[], fast=True)] == ["webapp-limit-removed"]
    with pytest.raises(CatalogueError, match="no fault named webapp-nope"):
        select(faults, only=["webapp-nope"], fast=False)
