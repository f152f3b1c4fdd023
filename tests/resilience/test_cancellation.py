"""A reader who leaves mid-answer stops the model: the disconnect travels the whole chain.

The client closes its TLS connection to HAProxy; HAProxy closes its connection to Apache, the app
notices on its next write and closes its stream to the gateway, which closes its connection to
the simulator. The simulator records the time it saw the disconnect, with the app's request id
(sent as X-Request-ID), on the same clock as ours (containers share the kernel).
"""

import asyncio
import json
import time

from chain_support import chain_target, sim_stats, wait_for

from deploykit.probes import stream_client as streams

LIMIT_NS = 1_000_000_000


async def _read_then_leave(target: streams.Target, tokens: int) -> tuple[str, int]:
    """Read the meta line and ``tokens`` tokens, then drop the connection; (request id, time)."""
    async with asyncio.timeout(60):
        reader, writer = await asyncio.open_connection(
            target.host, target.port, ssl=target.ssl_context(), server_hostname=target.server_name
        )
        writer.write(target.request())
        head = b""
        while (parsed := streams.split_head(head)) is None:
            head += await reader.read(65536)
        status, headers, body = parsed
        assert status == 200, f"HTTP {status}: {body[:200]!r}"
        chunked = "chunked" in headers.get("transfer-encoding", "")
        decoder = streams.ChunkedDecoder() if chunked else None
        text, request_id, seen = decoder.feed(body) if decoder else body, "", 0
        while seen < tokens:
            *lines, text = text.split(b"\n")
            for line in lines:
                event = json.loads(line)
                request_id = event.get("request_id", request_id)
                seen += event.get("type") == "token"
            data = await reader.read(65536)
            assert data, f"the answer ended after {seen} tokens"
            text += decoder.feed(data) if decoder else data
        writer.transport.abort()
        return request_id, time.time_ns()


def test_disconnect_reaches_the_model(topology, site, sim) -> None:
    """The simulator sees the reader leave within 1 s, and stops generating."""
    target = chain_target(
        topology, site, "[[sim:tokens=400]] [[sim:tps=10]] I will leave early", sim.model
    )
    request_id, left_at = asyncio.run(_read_then_leave(target, tokens=3))
    assert request_id, "the stream carried no request id"

    def ours(stats: dict) -> list[dict]:
        return [c for c in stats["cancellations"] if c.get("request_id") == request_id]

    stats = wait_for(
        "the simulator recording the disconnect",
        lambda: sim_stats(topology),
        lambda s: bool(ours(s)),
        10,
    )
    seen_after = ours(stats)[0]["at_ns"] - left_at
    assert seen_after <= LIMIT_NS, f"the simulator saw the disconnect {seen_after / 1e9:.2f} s late"
    assert ours(stats)[0]["after_tokens"] < 400, "the simulator generated the whole answer"
