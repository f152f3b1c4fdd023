"""Summaries of stream results, the verdict against the issue's targets, and the real model's rows.

Pure functions over the dictionaries that :mod:`deploykit.probes.stream_client` produces, so
that results from an LLM machine (JSON over SSH) and from here are treated alike.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

NS_PER_MS = 1_000_000


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile by linear interpolation between closest ranks; None without data."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def peak_concurrency(results: list[dict[str, Any]]) -> int:
    """Most streams delivering tokens at the same instant (first token seen, answer not over).

    Counting from the first token rather than from the request means a stream waiting in some
    queue does not count as served concurrently.
    """
    events = []
    for result in results:
        if result["first_token_ns"] and result["end_ns"]:
            events += [(result["first_token_ns"], 1), (result["end_ns"], -1)]
    peak = current = 0
    # At equal times, ends sort before starts, so touching intervals do not count as overlap.
    for _, step in sorted(events):
        current += step
        peak = max(peak, current)
    return peak


def _ms(values: list[int]) -> list[float]:
    return [v / NS_PER_MS for v in values]


def summarize(path: str, level: int, results: list[dict[str, Any]]) -> dict[str, Any]:
    """Percentiles in milliseconds, error counts, merged reads and spread across machines."""
    ttft = [r["first_token_ns"] - r["sent_ns"] for r in results if r["first_token_ns"]]
    # The same, less the client's own CPU time while the stream waited for its first token: what
    # the stream would have waited had the client not shared the cores (at best).
    ttft_less_client = [
        r["first_token_ns"] - r["sent_ns"] - (r["first_token_cpu_ns"] - r["sent_cpu_ns"])
        for r in results
        if r["first_token_ns"] and r.get("first_token_cpu_ns")
    ]
    total = [r["end_ns"] - r["sent_ns"] for r in results if r["ok"]]
    delays = [d for r in results for d in r["delays_ns"]]
    gaps = [g for r in results for g in r["gaps_ns"]]
    errors = Counter(r["error"].split(":", 1)[0] for r in results if not r["ok"])
    summary: dict[str, Any] = {
        "path": path,
        "level": level,
        "streams": len(results),
        "ok": sum(r["ok"] for r in results),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors.most_common(5)),
        "error_sample": next((r["error"] for r in results if not r["ok"]), ""),
        "tokens": sum(r["tokens"] for r in results),
        "reads": sum(r["reads"] for r in results),
        "merged_reads": sum(r["merged_reads"] for r in results),
        "peak_concurrency": peak_concurrency(results),
        "served_by": dict(Counter(r["served_by"] for r in results if r["served_by"])),
    }
    for name, values in (
        ("ttft", ttft),
        ("ttft_less_client", ttft_less_client),
        ("delay", delays),
        ("gap", gaps),
        ("total", total),
    ):
        for q in (50, 99):
            summary[f"{name}_p{q}_ms"] = percentile(_ms(values), q)
    summary["connect_p50_ms"] = percentile(_ms([r["connect_ns"] for r in results]), 50)
    return summary


@dataclass(frozen=True)
class Verdict:
    """One row of the targets table."""

    name: str
    target: str
    measured: str
    status: str  # "pass", "miss by ...", or "not run"


def _added(direct: dict | None, chain: dict | None, key: str) -> float | None:
    """What the chain adds: the difference of the two paths' percentiles (streams are unpaired)."""
    if not direct or not chain or direct[key] is None or chain[key] is None:
        return None
    return chain[key] - direct[key]


def _at_most(name: str, value: float | None, limit: float, unit: str = "ms") -> Verdict:
    if value is None:
        return Verdict(name, f"<= {limit:g} {unit}", "-", "not run")
    status = "pass" if value <= limit else f"miss by {value - limit:.2f} {unit}"
    return Verdict(name, f"<= {limit:g} {unit}", f"{value:.2f} {unit}", status)


def verdicts(summaries: list[dict[str, Any]]) -> list[Verdict]:
    """The issue's targets, each with what was measured and by how much it was missed."""
    by = {(s["path"], s["level"]): s for s in summaries}
    levels = sorted({s["level"] for s in summaries})

    def pair(level: int) -> tuple[dict | None, dict | None]:
        return by.get(("direct", level)), by.get(("chain", level))

    rows = [
        _at_most("TTFT added p50, level 1", _added(*pair(1), "ttft_p50_ms"), 1.0),
        _at_most("TTFT added p99, level 1", _added(*pair(1), "ttft_p99_ms"), 5.0),
        _at_most("TTFT added p50, level 50", _added(*pair(50), "ttft_p50_ms"), 5.0),
        _at_most("TTFT added p99, level 50", _added(*pair(50), "ttft_p99_ms"), 20.0),
        _at_most("TTFT added p99, level 200", _added(*pair(200), "ttft_p99_ms"), 10.0),
    ]
    rows += [
        _at_most(f"per-chunk delay added p50, level {n}", _added(*pair(n), "delay_p50_ms"), 0.5)
        for n in levels
    ]
    chain = [s for s in summaries if s["path"] == "chain"]
    merged = sum(s["merged_reads"] for s in chain)
    rows.append(
        Verdict(
            "merged chunks, full chain, all levels",
            "0",
            str(merged) if chain else "-",
            ("pass" if merged == 0 else f"miss by {merged}") if chain else "not run",
        )
    )
    rows.append(_capacity([s for s in chain if s["level"] >= 500]))
    return rows


def _capacity(big: list[dict[str, Any]]) -> Verdict:
    """>= 500 streams open at once, spread over at least two web machines, none failing."""
    name, target = "concurrent streams over 2 web machines", ">= 500 open, >= 2 nodes, 0 errors"
    if not big:
        return Verdict(name, target, "-", "not run")
    best = max(big, key=lambda s: s["peak_concurrency"])
    nodes = len(best["served_by"])
    measured = f"{best['peak_concurrency']} open, {nodes} nodes, {best['errors']} errors"
    misses = []
    if best["peak_concurrency"] < 500:
        misses.append(f"{500 - best['peak_concurrency']} streams")
    if nodes < 2:
        misses.append(f"{2 - nodes} nodes")
    if best["errors"]:
        misses.append(f"{best['errors']} errors")
    return Verdict(name, target, measured, "pass" if not misses else "miss by " + ", ".join(misses))


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


# The columns of the per-level tables, by title: width and the summary's key. All are
# milliseconds or rates shown with two decimals, but merged reads, a count.
_COLUMNS = {
    "ttft50": (9, "ttft_p50_ms"),
    "ttft99": (9, "ttft_p99_ms"),
    "delay50": (9, "delay_p50_ms"),
    "delay99": (9, "delay_p99_ms"),
    "gap50": (8, "gap_p50_ms"),
    "merged": (8, "merged_reads"),
    "tok/s50": (9, "rate_p50"),
    "tok/s min": (11, "rate_min"),
    "ollama": (8, "ollama_rate_p50"),
    "tokens50": (10, "tokens_p50"),
    "total50": (10, "total_p50_ms"),
}
_COUNTS = {"merged_reads"}


def _titles(titles: list[str]) -> str:
    return "".join(f"{title:>{_COLUMNS[title][0]}}" for title in titles)


def _cells(summary: dict[str, Any], titles: list[str]) -> str:
    cells = []
    for title in titles:
        width, key = _COLUMNS[title]
        value = str(summary[key]) if key in _COUNTS else fmt(summary[key])
        cells.append(f"{value:>{width}}")
    return "".join(cells)


def _by_level(summaries: list[dict[str, Any]], titles: list[str], machines: str) -> str:
    """One row per path and level: path, level and ok, the ``titles`` columns, the peak, and
    the machines that served (``machines`` is the summary's key, its title with spaces)."""
    head = f"{'path':<7}{'level':>6}{'ok':>9}{_titles(titles)}{'peak':>6}"
    head += f"  {machines.replace('_', ' ')}"
    lines = [head, "-" * len(head)]
    for s in summaries:
        served = ", ".join(f"{k}={v}" for k, v in sorted(s[machines].items())) or "-"
        lines.append(
            f"{s['path']:<7}{s['level']:>6}{s['ok']:>5}/{s['streams']:<3}"
            + _cells(s, titles)
            + f"{s['peak_concurrency']:>6}  {served}"
        )
    return "\n".join(lines)


def level_table(summaries: list[dict[str, Any]]) -> str:
    """Both paths, level by level, in milliseconds."""
    titles = ["ttft50", "ttft99", "delay50", "delay99", "gap50", "merged"]
    return _by_level(summaries, titles, "served_by")


def verdict_table(rows: list[Verdict]) -> str:
    """Target, measured value and pass or miss, one target per line."""
    width = max(len(r.name) for r in rows)
    lines = [f"{'target':<{width}}  {'goal':<34}{'measured':<34}result"]
    lines.append("-" * len(lines[0]))
    lines += [f"{r.name:<{width}}  {r.target:<34}{r.measured:<34}{r.status}" for r in rows]
    return "\n".join(lines)


def added(summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per level, what the full chain adds to the direct path at p50 and p99, in milliseconds."""
    by = {(s["path"], s["level"]): s for s in summaries}
    rows = []
    for level in sorted({s["level"] for s in summaries}):
        direct, chain = by.get(("direct", level)), by.get(("chain", level))
        row: dict[str, Any] = {"level": level}
        for key in (
            "ttft_p50_ms",
            "ttft_p99_ms",
            "ttft_less_client_p50_ms",
            "ttft_less_client_p99_ms",
            "delay_p50_ms",
            "delay_p99_ms",
        ):
            row[key] = _added(direct, chain, key)
        # The client's own CPU time per stream on the shared cores (its share of the contention).
        cpu = chain.get("client_cpu_s") if chain else None
        row["client_cpu_ms_per_stream"] = (
            None if cpu is None or not chain["streams"] else cpu * 1000 / chain["streams"]
        )
        rows.append(row)
    return rows


def added_table(rows: list[dict[str, Any]]) -> str:
    """The chain's cost over the direct path, level by level."""
    head = (
        f"{'level':>6}{'ttft p50':>10}{'ttft p99':>10}{'less client p50':>17}"
        f"{'less client p99':>17}{'delay p50':>11}{'delay p99':>11}{'client cpu/stream':>19}"
    )
    lines = [head, "-" * len(head)]
    lines += [
        f"{r['level']:>6}{fmt(r['ttft_p50_ms']):>10}{fmt(r['ttft_p99_ms']):>10}"
        f"{fmt(r['ttft_less_client_p50_ms']):>17}{fmt(r['ttft_less_client_p99_ms']):>17}"
        f"{fmt(r['delay_p50_ms']):>11}{fmt(r['delay_p99_ms']):>11}"
        f"{fmt(r['client_cpu_ms_per_stream']):>19}"
        for r in rows
    ]
    return "\n".join(lines)


# Each hop's share of the time to first token, from the Server-Timing entries of one answer
# (milliseconds) and the model's own time to its first token (Ollama's load and prompt
# evaluation, which the gateway's and the app's spans include because Ollama sends its headers
# with the first token).
HOPS = ("HAProxy", "hand-off", "app", "app-gateway", "gw auth", "gw-Ollama", "other")


def hop_split(result: dict[str, Any]) -> dict[str, float] | None:
    """One answer's time to first token, hop by hop, in ms; None without the entries.

    HAProxy: queued and connecting to a web machine. hand-off: Apache and mod_wsgi handing the
    request to the app. app: the session, the request and the database. app-gateway: the network
    and TLS between app and gateway (the app's wait minus the gateway's own time). gw auth:
    the gateway until authenticated. gw-Ollama: the gateway's wait for Ollama minus the model's
    own time. other: the rest of this answer's time to first token beyond the model's own: the
    client, TLS to HAProxy, HAProxy's own work and the first token's way back through the hops.
    """
    timing = result.get("server_timing") or {}
    needed = ("lb-queue", "lb-connect", "app", "app-gateway", "gateway-auth", "gateway")
    if not result["first_token_ns"] or any(name not in timing for name in needed):
        return None
    model = (result["load_ns"] + result["prompt_eval_ns"]) / NS_PER_MS
    split = {
        "HAProxy": timing["lb-queue"] + timing["lb-connect"],
        "hand-off": timing.get("app-handoff", 0.0),
        "app": timing["app"],
        "app-gateway": timing["app-gateway"] - timing["gateway"],
        "gw auth": timing["gateway-auth"],
        "gw-Ollama": timing["gateway"] - timing["gateway-auth"] - model,
    }
    ttft = (result["first_token_ns"] - result["sent_ns"]) / NS_PER_MS
    split["other"] = ttft - model - sum(split.values())
    return split


def hop_shares(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Per hop, the p50 and p99 of its share over a level's answers, and how many had entries."""
    splits = [split for r in results if (split := hop_split(r)) is not None]
    shares: dict[str, Any] = {"answers": len(splits)}
    for hop in HOPS:
        values = [split[hop] for split in splits]
        shares[hop] = {"p50": percentile(values, 50), "p99": percentile(values, 99)}
    return shares


def hop_split_table(summaries: list[dict[str, Any]]) -> str:
    """The full chain's share of the time to first token by hop, level by level (p50 / p99)."""
    head = f"{'level':>6}{'q':>4}" + "".join(f"{hop:>12}" for hop in HOPS) + f"{'answers':>9}"
    lines = [head, "-" * len(head)]
    for s in summaries:
        shares = s.get("hops")
        if s["path"] != "chain" or not shares:
            continue
        for q in ("p50", "p99"):
            cells = "".join(f"{fmt(shares[hop][q]):>12}" for hop in HOPS)
            answers = shares["answers"] if q == "p50" else ""
            lines.append(f"{s['level'] if q == 'p50' else '':>6}{q:>4}{cells}{answers:>9}")
    return "\n".join(lines)


def hop_table(summaries: list[dict[str, Any]]) -> str:
    """Single streams entering the chain at successive hops; each row adds one more layer."""
    width = max(len(s["path"]) for s in summaries)
    titles = ["ttft50", "ttft99", "delay50", "delay99"]
    head = f"{'entry point':<{width}}{'ok':>8}{_titles(titles)}"
    lines = [head, "-" * len(head)]
    lines += [
        f"{s['path']:<{width}}{s['ok']:>4}/{s['streams']:<3}{_cells(s, titles)}" for s in summaries
    ]
    return "\n".join(lines)


# --- The real model ------------------------------------------------------------------------------


def stream_rate(result: dict[str, Any]) -> float | None:
    """Tokens per second of one stream once it has started: token lines after the first, over the
    time from the first to the last (the gaps add up to it). Answer length does not enter, so
    answers of different lengths compare; the time to the first token is measured apart."""
    span_ns = sum(result["gaps_ns"])
    return len(result["gaps_ns"]) * 1e9 / span_ns if span_ns > 0 else None


def real_summary(path: str, level: int, results: list[dict[str, Any]]) -> dict[str, Any]:
    """:func:`summarize` plus what a real model's rows need: tokens per second per stream, Ollama's
    own generation speed, answer length and which LLM machine answered."""
    ok = [r for r in results if r["ok"]]
    rates = [rate for r in ok if (rate := stream_rate(r)) is not None]
    own = [r["eval_count"] * 1e9 / r["eval_ns"] for r in ok if r["eval_ns"] > 0]
    summary = summarize(path, level, results)
    summary.update(
        rate_p50=percentile(rates, 50),
        rate_min=min(rates, default=None),
        ollama_rate_p50=percentile(own, 50),
        tokens_p50=percentile([r["tokens"] for r in ok], 50),
        answered_by=dict(Counter(r["llm"] for r in results if r["llm"])),
    )
    return summary


def _share(added_value: float | None, base: float | None) -> float | None:
    """``added_value`` as a percentage of ``base``."""
    if added_value is None or not base:
        return None
    return 100 * added_value / base


def _total_for(summary: dict[str, Any], tokens: float | None) -> float | None:
    """Milliseconds to stream an answer of ``tokens`` tokens at the path's p50 TTFT and speed."""
    if tokens is None or summary["ttft_p50_ms"] is None or not summary["rate_p50"]:
        return None
    return summary["ttft_p50_ms"] + max(tokens - 1, 0) * 1000 / summary["rate_p50"]


def real_overhead(summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per level, what the chain adds to the real model's own time, in ms and in percent.

    Totals are not compared as measured: the answers differ in length, and /api/ask cannot ask
    Ollama for a fixed one. So the total is taken for one length on both paths (the direct path's
    median answer), from each path's p50 time to first token and p50 tokens per second.
    """
    by = {(s["path"], s["level"]): s for s in summaries}
    rows = []
    for level in sorted({s["level"] for s in summaries}):
        direct, chain = by.get(("direct", level)), by.get(("chain", level))
        if not direct or not chain:
            continue
        ttft_added = _added(direct, chain, "ttft_p50_ms")
        tokens = direct["tokens_p50"]
        direct_total, chain_total = _total_for(direct, tokens), _total_for(chain, tokens)
        total_added = None if None in (direct_total, chain_total) else chain_total - direct_total
        rate_change = _added(direct, chain, "rate_p50")
        rows.append(
            {
                "level": level,
                "ttft_added_ms": ttft_added,
                "ttft_added_pct": _share(ttft_added, direct["ttft_p50_ms"]),
                "rate_change_pct": _share(rate_change, direct["rate_p50"]),
                "total_tokens": tokens,
                "direct_total_ms": direct_total,
                "chain_total_ms": chain_total,
                "total_added_ms": total_added,
                "total_added_pct": _share(total_added, direct_total),
            }
        )
    return rows


def real_table(summaries: list[dict[str, Any]]) -> str:
    """The real model on both paths, level by level: TTFT in ms, speeds in tokens per second."""
    titles = ["ttft50", "ttft99", "tok/s50", "tok/s min", "ollama", "tokens50", "total50"]
    return _by_level(summaries, [*titles, "delay50"], "answered_by")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f}%"


def real_overhead_table(rows: list[dict[str, Any]]) -> str:
    """The chain's cost as a share of the real model's own time, level by level."""
    head = (
        f"{'level':>6}{'ttft added':>12}{'ttft %':>9}{'tok/s %':>9}{'tokens':>8}"
        f"{'direct total':>14}{'chain total':>13}{'total added':>13}{'total %':>9}"
    )
    lines = [head, "-" * len(head)]
    lines += [
        f"{r['level']:>6}{fmt(r['ttft_added_ms']):>12}{_pct(r['ttft_added_pct']):>9}"
        f"{_pct(r['rate_change_pct']):>9}{fmt(r['total_tokens']):>8}"
        f"{fmt(r['direct_total_ms']):>14}{fmt(r['chain_total_ms']):>13}"
        f"{fmt(r['total_added_ms']):>13}{_pct(r['total_added_pct']):>9}"
        for r in rows
    ]
    return "\n".join(lines)
