"""The catalogue run's report: a row a fault, then the totals (Markdown, JSON, console lines)."""

from __future__ import annotations

import json
from pathlib import Path

from faults import verdicts
from faults.runner import Outcome


def _yes(flag: bool) -> str:
    return "yes" if flag else "**no**"


def caught_by(outcome: Outcome) -> str:
    if outcome.catchers:
        first, more = outcome.catchers[0], len(outcome.catchers) - 1
        return f"`{first.node}`: {first.message}" + (f" (and {more} more)" if more else "")
    others = [r for r in outcome.results if r.kind != verdicts.PASSED]
    return "; ".join(f"{r.kind} in `{r.node}`: {r.message}" for r in others) or "none"


def line(outcome: Outcome) -> str:
    """One console line, printed as soon as the fault is done."""
    verdict = "OK    " if outcome.ok else "FAILED"
    first = outcome.catchers[0].node if outcome.catchers else "-"
    text = f"{verdict} {outcome.fault.id} ({outcome.machine or '?'}, {outcome.seconds:.0f} s): "
    return text + (f"caught by {first}" if outcome.ok else outcome.problem)


def totals(outcomes: list[Outcome]) -> dict[str, int | float]:
    return {
        "faults": len(outcomes),
        "live": sum(o.live for o in outcomes),
        "caught": sum(o.caught for o in outcomes),
        "restored": sum(o.restored for o in outcomes),
        "healthy": sum(o.healthy for o in outcomes),
        "ok": sum(o.ok for o in outcomes),
        "minutes": round(sum(o.seconds for o in outcomes) / 60, 1),
    }


def summary(outcomes: list[Outcome]) -> str:
    t = totals(outcomes)
    return (
        f"{t['faults']} faults: {t['live']} live, {t['caught']} caught, {t['restored']} restored, "
        f"{t['healthy']} healthy after; {t['faults'] - t['ok']} failed; {t['minutes']} min"
    )


def markdown(outcomes: list[Outcome], inventory: Path, baseline_seconds: float) -> str:
    rows = [
        "# Fault catalogue report",
        "",
        f"Inventory: `{inventory}`. Baseline (every named test passing before any fault): "
        f"{baseline_seconds:.0f} s.",
        "",
        "| fault | role | machine | live | caught by | restored | healthy | time |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for o in outcomes:
        rows.append(
            f"| {o.fault.id} | {o.fault.role} | {o.machine} | {_yes(o.live)} | "
            f"{caught_by(o).replace('|', '/')} | {_yes(o.restored)} | {_yes(o.healthy)} | "
            f"{o.seconds:.0f} s |"
        )
    problems = [f"- {o.fault.id}: {o.problem}" for o in outcomes if o.problem]
    return "\n".join([*rows, "", f"**Totals:** {summary(outcomes)}.", "", *problems, ""])


def write(outcomes: list[Outcome], directory: Path, inventory: Path, baseline: float) -> Path:
    """report.md and report.json in ``directory``; returns the Markdown file's path."""
    data = {
        "inventory": str(inventory),
        "baseline_seconds": round(baseline, 1),
        "totals": totals(outcomes),
        "faults": [
            {
                "id": o.fault.id,
                "role": o.fault.role,
                "summary": o.fault.summary,
                "machine": o.machine,
                "live": o.live,
                "caught_by": [{"test": r.node, "message": r.message} for r in o.catchers],
                "other_results": [
                    {"test": r.node, "kind": r.kind, "message": r.message}
                    for r in o.results
                    if r.kind not in (verdicts.PASSED, verdicts.CAUGHT)
                ],
                "restored": o.restored,
                "healthy": o.healthy,
                "seconds": round(o.seconds, 1),
                "problem": o.problem,
            }
            for o in outcomes
        ],
    }
    (directory / "report.json").write_text(json.dumps(data, indent=2) + "\n")
    path = directory / "report.md"
    path.write_text(markdown(outcomes, inventory, baseline))
    return path
