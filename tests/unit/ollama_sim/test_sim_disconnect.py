"""A client that goes away stops generation, and the simulator notices within 1 s."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from aiohttp import web
from sim_harness import RunningSim, raw_post, read_until

from ollama_sim.config import SimConfig
from ollama_sim.server import create_app

DETECTION_LIMIT_S = 1.0


@pytest.fixture
def slow_sim(start_sim) -> RunningSim:
    return start_sim("--load-delay", "0", "--ttft", "0", "--tps", "20")


def cancelled_once(before: int):
    return lambda stats: stats["cancelled"] > before


def test_disconnect_mid_stream_is_seen_and_generation_stops(slow_sim: RunningSim) -> None:
    before = slow_sim.stats()
    conn = raw_post(
        slow_sim.url,
        "/api/generate",
        {"model": "llama3.2", "prompt": "q [[sim:tokens=200]]"},
        {"X-Request-ID": "req-42"},
    )
    read_until(conn, b"sim_emit_ns", 3)
    conn.close()
    stats, waited = slow_sim.wait_for_stats(cancelled_once(before["cancelled"]), 5)
    assert waited < DETECTION_LIMIT_S
    entry = stats["cancellations"][-1]
    assert entry["request_id"] == "req-42"
    assert 3 <= entry["after_tokens"] < 200
    assert abs(entry["at_ns"] - time.time_ns()) < 5e9
    assert stats["active"] == 0
    assert stats["completed"] == before["completed"]
    assert "client disconnected: /api/generate request_id=req-42" in slow_sim.log()


@pytest.mark.parametrize(
    ("prompt", "stream", "decoding"),
    [
        ("q [[sim:stall=30]]", True, False),
        ("q [[sim:load=30]]", True, False),
        ("q [[sim:stall=30]]", False, False),
        ("q [[sim:tokens=200]]", False, True),
    ],
    ids=["stall", "load", "stall-not-streamed", "decoding-not-streamed"],
)
def test_disconnect_before_any_write_is_seen(
    slow_sim: RunningSim, prompt: str, stream: bool, decoding: bool
) -> None:
    before = slow_sim.stats()["cancelled"]
    body = {"model": "llama3.2", "prompt": prompt, "stream": stream}
    conn = raw_post(slow_sim.url, "/api/generate", body, {})
    slow_sim.wait_for_stats(lambda stats: stats["active"] == 1, 5)
    time.sleep(0.2)
    conn.close()
    stats, waited = slow_sim.wait_for_stats(cancelled_once(before), 5)
    assert waited < DETECTION_LIMIT_S
    assert stats["active"] == 0
    assert (stats["cancellations"][-1]["after_tokens"] > 0) is decoding


def test_write_to_a_closed_connection_is_recorded_too() -> None:
    """Without handler cancellation aiohttp reports a gone client only when a write fails."""

    async def scenario() -> dict:
        config = SimConfig(load_delay=0, time_to_first_token=0, tokens_per_second=50)
        runner = web.AppRunner(create_app(config), handler_cancellation=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            conn = raw_post(url, "/api/generate", {"model": "llama3.2", "prompt": "q"}, {})
            await asyncio.sleep(0.1)
            conn.close()
            async with aiohttp.ClientSession() as session:
                for _ in range(50):
                    await asyncio.sleep(0.02)
                    async with session.get(f"{url}/sim/stats") as response:
                        stats = await response.json()
                    if stats["cancelled"]:
                        break
            return stats
        finally:
            await runner.cleanup()

    stats = asyncio.run(scenario())
    assert stats["cancelled"] == 1
    assert stats["completed"] == 0
    assert stats["active"] == 0
