"""Reading pytest's JUnit XML: only an assertion counts as catching a fault."""

import subprocess
import sys

import pytest

from faults import verdicts

SUITE = """
import time
import pytest

def test_assert():
    assert 1 == 2, "web2: settings.env is mode 0644, want 0600"

def test_fail():
    pytest.fail("HSTS is missing")

def test_crash():
    raise ConnectionRefusedError("refused")

@pytest.mark.timeout(1)
def test_slow():
    time.sleep(5)

@pytest.fixture
def broken():
    raise RuntimeError("fixture")

def test_error(broken):
    pass

@pytest.mark.parametrize("n", [1])
def test_passes(n):
    pass
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("suite")
    (folder / "test_sample.py").write_text(SUITE)
    report = folder / "report.xml"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--junitxml={report}",
            "test_sample.py",
        ],
        cwd=folder,
        capture_output=True,
        check=False,
    )
    return {r.function.split("::")[1]: r for r in verdicts.read(report)}


@pytest.mark.parametrize(
    ("test", "kind"),
    [
        ("test_assert", verdicts.CAUGHT),
        ("test_fail", verdicts.CAUGHT),
        ("test_crash", verdicts.CRASH),
        ("test_slow", verdicts.TIMEOUT),
        ("test_error", verdicts.ERROR),
        ("test_passes", verdicts.PASSED),
    ],
)
def test_kinds(results, test, kind):
    assert results[test].kind == kind, results[test]


def test_the_message_is_the_assertions_first_line(results):
    assert results["test_assert"].message == "web2: settings.env is mode 0644, want 0600"
    assert results["test_fail"].message == "Failed: HSTS is missing"


def test_parameters_are_matched_to_the_function(results):
    assert verdicts.missing(
        list(results.values()), ("test_sample.py::test_passes", "test_sample.py::test_gone")
    ) == ["test_sample.py::test_gone"]
