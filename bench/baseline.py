"""Two reference numbers next to the streams: plain HTTPS requests per second, and page weight.

Requests per second is measured with keep-alive connections on GET /healthz (no backend call), so
it shows what HAProxy plus one Apache hop sustain for tiny answers on this hardware; the client is
Python on the same CPUs, so the figure is a floor, not HAProxy's ceiling.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from typing import Any

from bench.stats import NS_PER_MS, percentile
from deploykit.client import AssetLinks, SiteClient
from deploykit.probes.stream_client import ChunkedDecoder, split_head
from deploykit.topology import Topology


async def _read_one(reader: asyncio.StreamReader) -> int:
    """Read one response off a keep-alive connection; returns its status."""
    data = b""
    head = None
    while head is None:
        chunk = await reader.read(65536)
        if not chunk:
            raise ConnectionError("closed mid-response")
        data += chunk
        head = split_head(data)
    status, headers, body = head
    if "chunked" in headers.get("transfer-encoding", ""):
        decoder = ChunkedDecoder()
        decoder.feed(body)
        while not decoder.finished:
            chunk = await reader.read(65536)
            if not chunk:
                raise ConnectionError("closed mid-body")
            decoder.feed(chunk)
    else:
        length = int(headers.get("content-length", "0"))
        if len(body) < length:
            await reader.readexactly(length - len(body))
    return status


async def _worker(
    topology: Topology,
    quota: list[int],
    deadline: float,
    latencies: list[int],
    statuses: dict[int, int],
) -> None:
    reader, writer = await asyncio.open_connection(
        topology.lb.ansible_host, 443, ssl=topology.ssl_context(), server_hostname=topology.hostname
    )
    request = f"GET /healthz HTTP/1.1\r\nHost: {topology.hostname}\r\n\r\n".encode()
    try:
        while quota[0] > 0 and time.monotonic() < deadline:
            quota[0] -= 1
            start = time.perf_counter_ns()
            writer.write(request)
            status = await _read_one(reader)
            latencies.append(time.perf_counter_ns() - start)
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


async def _requests_per_second(
    topology: Topology, count: int, connections: int, seconds: float
) -> dict[str, Any]:
    quota = [count]
    latencies: list[int] = []
    statuses: dict[int, int] = {}
    start = time.perf_counter()
    deadline = time.monotonic() + seconds
    outcomes = await asyncio.gather(
        *(_worker(topology, quota, deadline, latencies, statuses) for _ in range(connections)),
        return_exceptions=True,
    )
    elapsed = time.perf_counter() - start
    ms = [v / NS_PER_MS for v in latencies]
    return {
        "requests": len(latencies),
        "connections": connections,
        "seconds": round(elapsed, 3),
        "requests_per_second": round(len(latencies) / elapsed, 1),
        "latency_p50_ms": percentile(ms, 50),
        "latency_p99_ms": percentile(ms, 99),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "connection_errors": [repr(o) for o in outcomes if isinstance(o, BaseException)],
    }


def requests_per_second(
    topology: Topology, count: int, connections: int, seconds: float
) -> dict[str, Any]:
    """GET /healthz over ``connections`` keep-alive TLS connections, at most ``count`` requests."""
    return asyncio.run(_requests_per_second(topology, count, connections, seconds))


def page_weight(client: SiteClient) -> dict[str, Any]:
    """Bytes of the logged-in page and of every asset it loads, as sent (no compression is on)."""
    page = client.request("GET", "/")
    page.raise_for_status()
    parser = AssetLinks()
    parser.feed(page.text)
    sizes = {"/": len(page.content)}
    for path in parser.paths:
        asset = client.request("GET", path)
        asset.raise_for_status()
        sizes[path] = len(asset.content)
    return {"bytes": sizes, "total_bytes": sum(sizes.values()), "requests": len(sizes)}


def _busy_seconds() -> float:
    """CPU seconds this host's cores have spent busy since boot (/proc/stat, all but idle and
    iowait)."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def setup_cpu(run: Callable[[int], list[dict[str, Any]]], level: int) -> dict[str, Any]:
    """The CPU time one question costs this host before and around its first token, and the
    wait that this cost alone sets for ``level`` questions arriving at once.

    ``run(level)`` asks ``level`` one-token questions at once through the chain. On the local
    topology every machine shares this host's cores, so the host's busy time covers the whole
    chain and the client; against remote machines it covers the client only. A burst needs
    ``level`` times that CPU before its last question is answered, and on ``cores`` cores the
    median question waits about half of it: a floor under the added time to first token that no
    configuration of the same work can lower.
    """
    run(level)  # warm: connections and pools as after any earlier burst
    busy, cpu = _busy_seconds(), time.process_time()
    results = run(level)
    busy, cpu = _busy_seconds() - busy, time.process_time() - cpu
    cores = os.cpu_count() or 1
    per_question_ms = busy * 1000 / level
    return {
        "level": level,
        "ok": sum(r["ok"] for r in results),
        "cores": cores,
        "host_cpu_ms_per_question": round(per_question_ms, 2),
        "client_cpu_ms_per_question": round(cpu * 1000 / level, 2),
        "burst_cpu_ms": round(busy * 1000, 1),
        "median_wait_floor_ms": round(busy * 1000 / cores / 2, 1),
    }
