"""The fault catalogue: one YAML file per role in ``faults/catalogue/``, each a list of faults.

A fault is an operator's mistake made the careless way: edit files on one machine, then reload
or restart. Each names the tests that must catch it. See faults/README.md for the fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

CATALOGUE_DIR = Path(__file__).parent / "catalogue"
ROLES_DIR = Path(__file__).parent.parent / "infrastructure" / "ansible" / "roles"

_TARGET = re.compile(r"^(?P<group>lb|web|llm|db)(?:\[(?P<index>\d+)\])?$")
_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_NODE = re.compile(r"^tests/[\w/]+\.py::\w+$")
_FIELDS = {"id", "role", "summary", "machine", "files", "inject", "apply", "live", "live_on"}
_FIELDS |= {"restore", "tests", "fast"}
_REQUIRED = {"id", "role", "summary", "machine", "inject", "live", "tests"}


class CatalogueError(ValueError):
    """A catalogue file is malformed; the message names the file, the fault and the field."""


@dataclass(frozen=True)
class Target:
    """One machine of an inventory group: ``web[1]`` is the second web machine."""

    group: str
    index: int

    @classmethod
    def parse(cls, text: str) -> Target:
        match = _TARGET.match(text)
        if not match:
            raise ValueError(f"{text!r} is not a group (lb, web, llm, db) or group[N]")
        return cls(match["group"], int(match["index"] or 0))

    def __str__(self) -> str:
        return f"{self.group}[{self.index}]"


@dataclass(frozen=True)
class Fault:
    """One mistake, how to make it, how to see it is live, how to undo it, and who must catch it."""

    id: str
    role: str
    summary: str
    machine: Target
    inject: str
    live: str
    tests: tuple[str, ...]
    files: tuple[str, ...] = ()
    apply: str = ""
    live_on: Target | None = None
    restore: str = ""
    fast: bool = False

    @property
    def live_target(self) -> Target:
        return self.live_on or self.machine


def _fault(entry: object, role: str, where: str) -> Fault:
    if not isinstance(entry, dict):
        raise CatalogueError(f"{where}: each fault is a mapping")
    name = f"{where}: {entry.get('id', '<no id>')}"
    if True in entry:
        raise CatalogueError(
            f"{name}: `on:` is YAML's boolean true; name the machine with `machine:`"
        )
    if unknown := set(entry) - _FIELDS:
        raise CatalogueError(f"{name}: unknown field(s) {sorted(unknown)}")
    if missing := _REQUIRED - set(entry):
        raise CatalogueError(f"{name}: missing field(s) {sorted(missing)}")
    if not _ID.match(str(entry["id"])) or not entry["id"].startswith(role.replace("_", "-") + "-"):
        raise CatalogueError(f"{name}: the id must be kebab-case and start with the role's name")
    if entry["role"] != role:
        raise CatalogueError(f"{name}: role {entry['role']!r} in {role}.yml")
    tests = entry["tests"]
    if not isinstance(tests, list) or not tests or not all(_NODE.match(str(t)) for t in tests):
        raise CatalogueError(f"{name}: tests must list node ids, tests/….py::test_name")
    if not entry.get("files") and not entry.get("restore"):
        raise CatalogueError(f"{name}: give the files it edits, or a restore command")
    try:
        machine = Target.parse(str(entry["machine"]))
        live_on = Target.parse(str(entry["live_on"])) if "live_on" in entry else None
    except ValueError as error:
        raise CatalogueError(f"{name}: {error}") from None
    return Fault(
        id=entry["id"],
        role=role,
        summary=str(entry["summary"]).strip(),
        machine=machine,
        inject=str(entry["inject"]),
        live=str(entry["live"]),
        tests=tuple(tests),
        files=tuple(entry.get("files") or ()),
        apply=str(entry.get("apply") or ""),
        live_on=live_on,
        restore=str(entry.get("restore") or ""),
        fast=bool(entry.get("fast", False)),
    )


def load(directory: Path = CATALOGUE_DIR) -> list[Fault]:
    """Every fault, by role then in file order; raises CatalogueError on the first problem."""
    faults: list[Fault] = []
    for path in sorted(directory.glob("*.yml")):
        role = path.stem
        if not (ROLES_DIR / role).is_dir():
            raise CatalogueError(f"{path.name}: there is no role {role!r}")
        entries = yaml.safe_load(path.read_text()) or []
        if not isinstance(entries, list):
            raise CatalogueError(f"{path.name}: the file holds a list of faults")
        faults += [_fault(entry, role, path.name) for entry in entries]
    seen: set[str] = set()
    for fault in faults:
        if fault.id in seen:
            raise CatalogueError(f"fault id {fault.id} is used twice")
        seen.add(fault.id)
    return faults


def select(faults: list[Fault], *, only: list[str], fast: bool) -> list[Fault]:
    """The faults asked for: by id (``only``, in catalogue order), the fast subset, or all."""
    if only:
        unknown = set(only) - {fault.id for fault in faults}
        if unknown:
            raise CatalogueError(f"no fault named {', '.join(sorted(unknown))}")
        return [fault for fault in faults if fault.id in only]
    return [fault for fault in faults if fault.fast] if fast else faults
