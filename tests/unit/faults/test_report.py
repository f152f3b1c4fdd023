"""The report: one row a fault naming its first catcher, and totals that count every step."""

import json

from faults import report, verdicts
from faults.definitions import Fault, Target
from faults.runner import Outcome

FAULT = Fault(
    id="haproxy-hsts-removed",
    role="haproxy",
    summary="HSTS no longer sent",
    machine=Target("lb", 0),
    inject="sed …",
    live="true",
    tests=("tests/security/test_headers.py::test_hsts",),
    files=("/etc/haproxy/haproxy.cfg",),
)


def outcome(*kinds: str, **steps) -> Outcome:
    results = [
        verdicts.TestResult(
            f"tests/security/test_headers.py::test_hsts[{n}]", kind, f"no HSTS on {n}"
        )
        for n, kind in enumerate(kinds)
    ]
    values = {"machine": "lb", "live": True, "restored": True, "healthy": True, "seconds": 30}
    return Outcome(FAULT, results=results, **{**values, **steps})


def test_a_caught_fault_names_its_first_catcher_and_counts_the_rest():
    caught = outcome(verdicts.CAUGHT, verdicts.CAUGHT, verdicts.PASSED)
    assert report.caught_by(caught) == (
        "`tests/security/test_headers.py::test_hsts[0]`: no HSTS on 0 (and 1 more)"
    )
    assert report.line(caught).startswith("OK     haproxy-hsts-removed (lb, 30 s): caught by")


def test_a_missed_fault_shows_what_happened_instead():
    missed = outcome(verdicts.TIMEOUT, problem="missed: no named test failed on an assertion")
    assert report.caught_by(missed).startswith("timeout in `tests/security/")
    assert report.line(missed).startswith("FAILED haproxy-hsts-removed")


def test_totals_count_each_step(tmp_path):
    outcomes = [outcome(verdicts.CAUGHT), outcome(verdicts.CAUGHT, healthy=False, problem="x")]
    assert report.summary(outcomes) == (
        "2 faults: 2 live, 2 caught, 2 restored, 1 healthy after; 1 failed; 1.0 min"
    )
    path = report.write(outcomes, tmp_path, tmp_path / "inventory.yml", 12.0)
    assert "**Totals:** 2 faults" in path.read_text()
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["totals"]["ok"] == 1
    assert data["faults"][0]["caught_by"][0]["test"].endswith("test_hsts[0]")
