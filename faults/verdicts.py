"""What the named tests said about a fault, read from pytest's JUnit XML.

A fault counts as caught only by a test that failed on an assertion (``assert``, or
``pytest.fail`` with a message): a timeout, an error in a fixture or an unexpected exception
shows that something broke, not that a test knew what.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

CAUGHT = "assertion"
TIMEOUT = "timeout"
CRASH = "crash"
ERROR = "error"
PASSED = "passed"
SKIPPED = "skipped"

_TIMEOUTS = ("Failed: Timeout", "TimeoutError", "playwright._impl._errors.TimeoutError")


@dataclass(frozen=True)
class TestResult:
    """One test case's outcome and the first line of its message."""

    node: str
    kind: str
    message: str = ""

    @property
    def function(self) -> str:
        """The node id without parameters, as the catalogue names tests."""
        return self.node.split("[", 1)[0]


def kind_of_failure(message: str) -> str:
    """CAUGHT for an assertion or pytest.fail, TIMEOUT for any timeout, else CRASH."""
    if message.startswith(_TIMEOUTS) or "Timeout (>" in message.split("\n", 1)[0]:
        return TIMEOUT
    if message.startswith(("AssertionError", "assert ", "Failed: ")):
        return CAUGHT
    return CRASH


def _first_line(message: str) -> str:
    text = message.removeprefix("AssertionError: ").strip()
    return text.splitlines()[0][:300] if text else ""


def read(path: Path) -> list[TestResult]:
    """Every test case in a JUnit XML file written by ``pytest --junitxml``."""
    results = []
    # The file is pytest's, written by this run for this run.
    for case in ET.parse(path).getroot().iter("testcase"):  # noqa: S314
        module = case.get("classname", "").replace(".", "/")
        node = f"{module}.py::{case.get('name', '')}"
        failure, error, skipped = case.find("failure"), case.find("error"), case.find("skipped")
        if failure is not None:
            message = failure.get("message", "")
            results.append(TestResult(node, kind_of_failure(message), _first_line(message)))
        elif error is not None:
            results.append(TestResult(node, ERROR, _first_line(error.get("message", ""))))
        elif skipped is not None:
            results.append(TestResult(node, SKIPPED, _first_line(skipped.get("message", ""))))
        else:
            results.append(TestResult(node, PASSED))
    return results


def missing(results: list[TestResult], named: tuple[str, ...]) -> list[str]:
    """The named tests that did not run at all (renamed, deleted or deselected)."""
    ran = {result.function for result in results}
    return [node for node in named if node not in ran]
