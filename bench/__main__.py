"""Streaming benchmark: the simulator direct against the full chain, then the real model's rows.

The streaming benchmark runs against the simulator, found by asking each LLM machine's Ollama:
its directives fix every answer's length and pace, and it stamps each token's emit time, so the
chain's cost shows to the millisecond, level after level. Then the real model (bench/real.py),
at one stream and at the concurrency its machines sustain, puts that cost next to a real model's
own time. How each path is measured: bench/paths.py.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import baseline, paths, real, stats
from bench.paths import Load
from deploykit.state import cache_dir
from deploykit.topology import Simulator, Topology

DEFAULT_OUT_DIR = cache_dir() / "bench"


def _levels(text: str) -> list[int]:
    levels = [int(part) for part in text.split(",") if part.strip()]
    if not levels or any(n < 1 or n > 2000 for n in levels):
        raise argparse.ArgumentTypeError("levels are 1 to 2000 streams, comma-separated")
    return levels


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--levels", type=_levels, default=[1, 10, 50, 100, 200, 500])
    parser.add_argument("--tokens", type=int, default=100, help="tokens per answer")
    parser.add_argument("--tps", type=float, default=25.0, help="tokens per second per stream")
    parser.add_argument(
        "--samples-at-1",
        type=int,
        default=20,
        help="streams run one after another at level 1, so that its p99 means something",
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="bound on one stream, s")
    parser.add_argument("--rps-requests", type=int, default=1000, help="GET /healthz count")
    parser.add_argument("--rps-connections", type=int, default=16)
    parser.add_argument(
        "--hops",
        action="store_true",
        help="also time single streams entering at the gateway and at the app (where time goes)",
    )
    parser.add_argument(
        "--timings",
        type=Path,
        help="JSON of topology timings to include (default: timings.json beside the inventory, "
        "which make up and make test write)",
    )
    parser.add_argument(
        "--real-levels",
        type=_levels,
        help="levels for the real model (default: 1 and the number of real-Ollama machines "
        "serving it, one stream per machine)",
    )
    parser.add_argument(
        "--real-samples",
        type=int,
        default=5,
        help="real-model streams per level and path, one after another at level 1 (0 skips them)",
    )
    parser.add_argument(
        "--real-question",
        default=real.DEFAULT_QUESTION,
        help="what the real model is asked, the same on both paths",
    )
    parser.add_argument(
        "--floor-level",
        type=int,
        default=50,
        help="one-token questions asked at once to measure the CPU a question costs (0 skips)",
    )
    parser.add_argument("--out", type=Path, help=f"JSON report (default under {DEFAULT_OUT_DIR})")
    return parser.parse_args(argv)


def _question(args: argparse.Namespace) -> str:
    # Directives make the answer's length and pace the same on both paths, whatever the defaults.
    return f"[[sim:tokens={args.tokens}]] [[sim:tps={args.tps:g}]] Why is the sky blue?"


def run_direct(
    topology: Topology, simulator: Simulator, level: int, rounds: int, args: argparse.Namespace
) -> list[dict[str, Any]]:
    """Run a level on the simulator's machine against the simulator on its loopback."""
    body = {"model": simulator.model, "prompt": _question(args), "stream": True}
    return paths.direct(topology, simulator.machine, body, Load(level, rounds, args.timeout))


def _as_haproxy_sends(topology: Topology, cookie: str) -> str:
    """The headers the app sees behind HAProxy (it trusts X-Forwarded-* from there)."""
    return (
        f"Cookie: {cookie}\nOrigin: {topology.origin}\nX-Forwarded-Proto: https\n"
        f"X-Forwarded-Host: {topology.hostname}\n"
    )


def run_hops(
    topology: Topology, cookie: str, simulator: Simulator, args: argparse.Namespace
) -> dict[str, list[dict[str, Any]]]:
    """Single streams entering the chain at each hop, to see what each hop adds.

    From the first web machine: the gateway on the simulator's machine (TLS, Basic auth, proxy),
    then the app on the web machine's own port (Apache, mod_wsgi, the app, the gateway).
    """
    web = topology.web[0]
    rounds = args.samples_at_1
    model = simulator.model
    direct_body = json.dumps({"model": model, "prompt": _question(args), "stream": True})
    gateway_port = str(topology.var(simulator.machine, "llm_gateway_port"))
    token = topology.secret("vault_llm_gateway_token")
    basic = base64.b64encode(f"webui:{token}".encode()).decode()
    gateway = paths.on_machine(
        topology,
        web,
        [
            "--host",
            simulator.machine.private_address,
            "--port",
            gateway_port,
            "--body",
            direct_body,
            "--streams",
            "1",
            "--tls-ca-file",
            topology.gateway_ca_path(web),
        ],
        rounds,
        args.timeout,
        headers=f"Authorization: Basic {basic}\n",
        root=True,
    )
    app_port = str(topology.var(web, "webapp_port"))
    ask_body = json.dumps({"question": _question(args), "model": model, "stream": True})
    app = paths.on_machine(
        topology,
        web,
        [
            "--host",
            "127.0.0.1",
            "--port",
            app_port,
            "--path",
            "/api/ask",
            "--body",
            ask_body,
            "--streams",
            "1",
            "--tls-ca-file",
            topology.app_ca_path(web),
        ],
        rounds,
        args.timeout,
        headers=_as_haproxy_sends(topology, cookie),
        root=True,
    )
    return {"gateway, from a web machine": gateway, "web app, on its machine": app}


def run_chain(
    topology: Topology,
    cookie: str,
    simulator: Simulator,
    level: int,
    rounds: int,
    args: argparse.Namespace,
) -> list[dict[str, Any]]:
    """Run a level through HAProxy, Apache, the app and the gateway, from this machine."""
    body = {"question": _question(args), "model": simulator.model, "stream": True}
    return paths.chain(topology, cookie, body, Load(level, rounds, args.timeout))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    topology = Topology.load()
    simulator = topology.require_simulator()
    # Every question is kept as a conversation of the user who asked: a user of the benchmark's
    # own keeps its hundreds out of the deployment's users' histories, and goes with them.
    with topology.temporary_user("bench") as (username, password):
        return run(args, topology, simulator, username, password)


def run(
    args: argparse.Namespace,
    topology: Topology,
    simulator: Simulator,
    username: str,
    password: str,
) -> int:
    """The whole benchmark as ``username``; prints the tables and writes the JSON report."""
    started = datetime.now(UTC)
    with topology.client() as client:
        cookie = client.login(username, password)
        listing = client.request("GET", "/api/models").json()
        weight = baseline.page_weight(client)
    print(
        f"benchmark of {topology.origin} ({len(topology.web)} web machines)\n"
        f"the streaming benchmark runs against the simulator: model {simulator.model} on "
        f"{simulator.machine.name}, {args.tokens} tokens at {args.tps:g} tokens/s per answer"
    )
    # One warm stream per path first: mod_wsgi daemons, connection pools and the model load.
    run_direct(topology, simulator, 1, 1, args)
    run_chain(topology, cookie, simulator, 1, 1, args)
    summaries = []
    for level in args.levels:
        rounds = args.samples_at_1 if level == 1 else 1
        for path, runner in (("direct", run_direct), ("chain", run_chain)):
            load_before = os.getloadavg()[0]
            began, cpu_began = time.monotonic(), time.process_time()
            if path == "direct":
                results = runner(topology, simulator, level, rounds, args)
            else:
                results = runner(topology, cookie, simulator, level, rounds, args)
            summary = stats.summarize(path, level, results)
            summary["seconds"] = round(time.monotonic() - began, 2)
            summary["load_average_before"] = load_before
            if path == "chain":
                # The chain's client runs here, on the cores the machines share: its CPU time
                # is what it took from them.
                summary["client_cpu_s"] = round(time.process_time() - cpu_began, 3)
                summary["hops"] = stats.hop_shares(results)
            summaries.append(summary)
            print(
                f"  {path:<6} level {level:>4}: {summary['ok']}/{summary['streams']} ok "
                f"in {summary['seconds']} s (load average {load_before:.1f})",
                flush=True,
            )
    hops = []
    if args.hops:
        by = {(s["path"], s["level"]): s for s in summaries}
        entered = run_hops(topology, cookie, simulator, args)
        hops = [
            *(
                [{**by[("direct", 1)], "path": "simulator, on its machine"}]
                if 1 in args.levels
                else []
            ),
            *(stats.summarize(name, 1, results) for name, results in entered.items()),
            *([{**by[("chain", 1)], "path": "full chain, from here"}] if 1 in args.levels else []),
        ]
    measured = real.measure(
        topology,
        cookie,
        listing,
        args.real_levels,
        args.real_samples,
        args.real_question,
        args.timeout,
    )
    floor = {}
    if args.floor_level > 0:

        def one_token(level: int) -> list[dict[str, Any]]:
            question = f"[[sim:tokens=1]] [[sim:tps={args.tps:g}]] Why is the sky blue?"
            body = {"question": question, "model": simulator.model, "stream": True}
            return paths.chain(topology, cookie, body, Load(level, 1, args.timeout))

        floor = baseline.setup_cpu(one_token, args.floor_level)
    rps = baseline.requests_per_second(
        topology, args.rps_requests, args.rps_connections, seconds=60
    )
    verdicts = stats.verdicts(summaries)
    added = stats.added(summaries)
    timings_file = args.timings or topology.inventory_file.parent / "timings.json"
    timings = json.loads(timings_file.read_text()) if timings_file.is_file() else {}

    print("\nper path and level (ms)\n" + stats.level_table(summaries))
    print("\nadded by the full chain (chain minus direct, ms)\n" + stats.added_table(added))
    print(
        "\nthe full chain's time to first token by hop, beyond the model's own (ms, from each "
        "answer's Server-Timing)\n" + stats.hop_split_table(summaries)
    )
    if hops:
        print("\none stream at a time, entering at each hop (ms)\n" + stats.hop_table(hops))
    print("\ntargets\n" + stats.verdict_table(verdicts))
    if floor:
        print(
            f"\nCPU per question, set-up and one token: {floor['host_cpu_ms_per_question']} ms "
            f"of this host's {floor['cores']} cores (the client's own "
            f"{floor['client_cpu_ms_per_question']} ms; on the local topology the host runs every "
            f"machine too). {floor['level']} questions at once need {floor['burst_cpu_ms']} ms of "
            f"CPU: the median one waits about {floor['median_wait_floor_ms']} ms for the cores."
        )
    _print_real(measured)
    print(
        f"\nplain HTTPS through HAProxy: {rps['requests_per_second']} requests/s "
        f"(GET /healthz, {rps['requests']} requests, {rps['connections']} keep-alive "
        f"connections, p50 {stats.fmt(rps['latency_p50_ms'])} ms, statuses {rps['statuses']})"
    )
    print(f"page weight: {weight['total_bytes']} bytes in {weight['requests']} requests")
    for name, value in timings.items():
        print(f"{name}: {value}")

    out = args.out or DEFAULT_OUT_DIR / f"bench-{started:%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "started": started.isoformat(),
        "target": topology.origin,
        "web_machines": [m.name for m in topology.web],
        "cpus": os.cpu_count(),
        "arguments": {k: str(v) for k, v in vars(args).items()},
        "levels": summaries,
        "added": added,
        "hops": hops,
        "targets": [asdict(v) for v in verdicts],
        "simulator": {"machine": simulator.machine.name, "model": simulator.model},
        "real_model": measured,
        "cpu_per_question": floor,
        "requests_per_second": rps,
        "page_weight": weight,
        "timings": timings,
    }
    out.write_text(json.dumps(report, indent=2))
    print(f"\nreport written to {out}")
    return 0 if all(v.status == "pass" for v in verdicts) else 1


def _print_real(measured: dict[str, Any]) -> None:
    """The real model's tables after the simulator's, or why there are none."""
    if "skipped" in measured:
        print(f"\nreal model: rows skipped, {measured['skipped']}")
        return
    print(
        f"\nreal model {measured['model']} on {', '.join(measured['machines'])}, "
        f"direct (on each machine's loopback) and full chain (ms; tok/s per stream after the first "
        f"token; ollama = its own eval_count / eval_duration)\n"
        + stats.real_table(measured["levels"])
    )
    print(
        "\nadded by the full chain to the real model's own time (p50; answers differ in length, "
        "so totals are for the direct path's median length at each path's TTFT and tok/s)\n"
        + stats.real_overhead_table(measured["overhead"])
    )


if __name__ == "__main__":
    raise SystemExit(main())
