"""Hundreds of concurrent streams, and the 503 beyond --max-queue (loopback only, bounded)."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import httpx
from sim_harness import raw_post, read_until

STREAMS = 300
TOKENS = 20
BUSY = "server busy, please try again. maximum pending requests exceeded"


async def _one_stream(session: aiohttp.ClientSession, url: str) -> list[dict]:
    body = {"model": "llama3.2", "prompt": f"q [[sim:tokens={TOKENS}]]"}
    async with session.post(f"{url}/api/generate", json=body) as response:
        assert response.status == 200
        return [json.loads(line) async for line in response.content if line.strip()]


async def _many_streams(url: str) -> list[list[dict]]:
    connector = aiohttp.TCPConnector(limit=STREAMS)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        return await asyncio.gather(*(_one_stream(session, url) for _ in range(STREAMS)))


def test_300_concurrent_streams_all_complete(start_sim) -> None:
    # 20 tokens at 20 tokens/s: each stream lasts over a second, so one at a time would take
    # minutes; the bound leaves room for a busy CI machine.
    sim = start_sim("--load-delay", "0.2", "--ttft", "0.1", "--tps", "20")
    started = time.monotonic()
    results = asyncio.run(_many_streams(sim.url))
    elapsed = time.monotonic() - started
    assert len(results) == STREAMS
    for chunks in results:
        assert len(chunks) == TOKENS + 1
        assert chunks[-1]["done"] is True and chunks[-1]["eval_count"] == TOKENS
    assert elapsed < 20, elapsed
    stats = sim.stats()
    assert (stats["completed"], stats["cancelled"], stats["active"]) == (STREAMS, 0, 0)


def test_requests_beyond_max_queue_get_503_until_one_ends(start_sim) -> None:
    sim = start_sim("--load-delay", "0", "--ttft", "0", "--tps", "1000", "--max-queue", "2")
    body = {"model": "llama3.2", "prompt": "q [[sim:stall=30]]"}
    held = [raw_post(sim.url, "/api/generate", body, {}) for _ in range(2)]
    sim.wait_for_stats(lambda stats: stats["active"] == 2, 5)
    quick = {"model": "llama3.2", "prompt": "q", "stream": False}
    refused = httpx.post(f"{sim.url}/api/generate", json=quick, timeout=5)
    assert (refused.status_code, refused.json()) == (503, {"error": BUSY})
    held.pop().close()
    sim.wait_for_stats(lambda stats: stats["active"] == 1, 5)
    accepted = httpx.post(f"{sim.url}/api/generate", json=quick, timeout=5)
    assert accepted.status_code == 200
    for conn in held:
        conn.close()


def test_emit_stamps_precede_arrival(start_sim) -> None:
    """sim_emit_ns is wall-clock time taken before the write, so it never follows the arrival."""
    sim = start_sim("--load-delay", "0", "--ttft", "0", "--tps", "50")
    conn = raw_post(sim.url, "/api/generate", {"model": "llama3.2", "prompt": "q"}, {})
    data = read_until(conn, b'"done":true', 1)
    arrived = time.time_ns()
    conn.close()
    stamps = [int(part.split(b"}")[0]) for part in data.split(b'"sim_emit_ns":')[1:]]
    assert len(stamps) > 5
    assert stamps == sorted(stamps)
    assert 0 <= arrived - stamps[-1] < 1e9
