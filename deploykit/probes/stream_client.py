"""A streaming HTTP/1.1 client that timestamps every read, for N concurrent streams.

Standard library only, on purpose: the same file runs here against the full chain and, over SSH
(``python3 -c SOURCE ARGS``), on an LLM machine against Ollama or the simulator on its loopback.
Both paths are thus measured by the same code, with the same clock (containers share the host's
kernel, so ``time.time_ns()`` here and the simulator's ``sim_emit_ns`` agree). Real Ollama stamps
no emit time: its streams have tokens, time to first token and gaps, but no delays.

Why not an HTTP library: each library buffers differently, and a reader that merges two socket
reads into one would hide exactly the proxy buffering we want to see. Here a "read" is one
``data_received`` call of an asyncio protocol, timestamped on arrival before anything is parsed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import ssl
import sys
import time
from dataclasses import asdict, dataclass, field

# Two lines whose emit times differ by more than this arrived in one read although the simulator
# wrote them apart: something between wrote them together (buffering).
MERGE_THRESHOLD_NS = 1_000_000
# Connection set-up is not what we measure, but 500 TLS handshakes at once would queue in the
# kernel's accept backlog; a bound keeps the set-up orderly.
CONNECT_CONCURRENCY = 64


@dataclass
class StreamResult:
    """What one stream saw. Times are nanoseconds on the shared wall clock."""

    ok: bool = False
    error: str = ""
    status: int = 0
    served_by: str = ""
    connect_ns: int = 0
    sent_ns: int = 0
    # This process's CPU time when the request was written and when its first token was read:
    # the client's own share of the cores it may share with what it measures.
    sent_cpu_ns: int = 0
    first_token_cpu_ns: int = 0
    first_token_ns: int = 0
    end_ns: int = 0
    tokens: int = 0  # token lines with text (the web app drops Ollama's empty chunks too)
    reads: int = 0
    merged_reads: int = 0
    # The LLM machine that answered (the web app's meta line; the benchmark fills it in directly).
    llm: str = ""
    # Ollama's own count and time of generated tokens, from its final line.
    eval_count: int = 0
    eval_ns: int = 0
    # Ollama's wait for the model (its queue and load) and its prompt evaluation, from that line.
    load_ns: int = 0
    prompt_eval_ns: int = 0
    # The Server-Timing entries of the answer, name -> ms: each hop's share (HAProxy, the app,
    # the gateway).
    server_timing: dict[str, float] = field(default_factory=dict)
    # Per token line that carries the simulator's emit time: receive time minus that time.
    delays_ns: list[int] = field(default_factory=list)
    # Between consecutive token lines, by receive time.
    gaps_ns: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Target:
    """Where the streams go and what they send."""

    host: str
    port: int
    path: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    tls: bool = False
    server_name: str = ""
    ca_file: str = ""

    def request(self) -> bytes:
        """One POST; ``Connection: close`` so that each stream has its own connection."""
        host = self.server_name or self.host
        lines = [
            f"POST {self.path} HTTP/1.1",
            f"Host: {host}",
            "Content-Type: application/json",
            "Accept: application/x-ndjson",
            f"Content-Length: {len(self.body)}",
            "Connection: close",
            *(f"{name}: {value}" for name, value in self.headers),
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body

    def ssl_context(self) -> ssl.SSLContext | None:
        """Verifying TLS context (the ACME CA when given), or None for plain HTTP."""
        if not self.tls:
            return None
        return ssl.create_default_context(cafile=self.ca_file or None)


class ChunkedDecoder:
    """Incremental decoder of HTTP/1.1 chunked bodies; returns the payload bytes of each feed."""

    def __init__(self) -> None:
        self._buffer = b""
        self._remaining = 0  # payload bytes left in the current chunk
        self._skip_crlf = False
        self.finished = False

    def feed(self, data: bytes) -> bytes:
        self._buffer += data
        out = bytearray()
        while self._buffer and not self.finished:
            if self._remaining:
                take = self._buffer[: self._remaining]
                out += take
                self._buffer = self._buffer[len(take) :]
                self._remaining -= len(take)
                self._skip_crlf = self._remaining == 0
                continue
            if self._skip_crlf:
                if len(self._buffer) < 2:
                    break
                self._buffer = self._buffer[2:]
                self._skip_crlf = False
                continue
            line, sep, rest = self._buffer.partition(b"\r\n")
            if not sep:
                break
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            self._buffer = rest
            if size == 0:
                self.finished = True
            self._remaining = size
        return bytes(out)


class _Reads(asyncio.Protocol):
    """Queues every read with its arrival time; parsing happens later, off the hot path."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[int, bytes | None]] = asyncio.Queue()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.queue.put_nowait((time.time_ns(), data))

    def eof_received(self) -> bool:
        self.queue.put_nowait((time.time_ns(), None))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.queue.put_nowait((time.time_ns(), None))


def split_head(data: bytes) -> tuple[int, dict[str, str], bytes] | None:
    """Status, lower-cased headers and the body bytes already read; None until the head is in."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        return None
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip()
        # A header sent on several lines is one comma-separated list (RFC 9110, 5.3).
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return status, headers, rest


def server_timing(header: str) -> dict[str, float]:
    """The ``name;dur=ms`` entries of a Server-Timing header; entries without a duration are
    left out."""
    entries = {}
    for entry in header.split(","):
        name, *params = (part.strip() for part in entry.split(";"))
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "dur":
                with contextlib.suppress(ValueError):
                    entries[name] = float(value.strip().strip('"'))
    return entries


def classify(line: dict) -> str:
    """token, done, error or other, for both the simulator's and the web app's NDJSON lines."""
    kind = line.get("type")
    if kind in ("token", "done", "error"):
        return str(kind)
    if "error" in line:
        return "error"
    if line.get("done") is True:
        return "done"
    if "response" in line or "message" in line:
        return "token"
    return "other"


def text_of(line: dict) -> str:
    """The text a token line carries: Ollama's generate or chat chunk, or the web app's token."""
    message = line.get("message")
    if isinstance(message, dict):
        return str(message.get("content") or "")
    return str(line.get("response") or line.get("text") or "")


class LineTimer:
    """Turns timestamped body bytes into per-line measurements and merged-read counts."""

    def __init__(self, result: StreamResult) -> None:
        self.result = result
        self._partial = b""
        self._last_token_ns = 0
        self.done = False

    def feed(self, received_ns: int, payload: bytes) -> None:
        if not payload:
            return  # chunk framing only
        self.result.reads += 1
        *complete, self._partial = (self._partial + payload).split(b"\n")
        emitted: list[int] = []
        for raw in complete:
            if not raw.strip():
                continue
            line = json.loads(raw)
            kind = classify(line)
            if kind == "error":
                message = line.get("message") or line.get("error")
                self.result.error = f"{line.get('code', 'error')}: {message}"[:300]
            elif kind == "done":
                self.done = True
                # Ollama's final line carries its counters; the web app's keeps them under "ollama".
                counters = line.get("ollama") if isinstance(line.get("ollama"), dict) else line
                self.result.eval_count = int(counters.get("eval_count") or 0)
                self.result.eval_ns = int(counters.get("eval_duration") or 0)
                self.result.load_ns = int(counters.get("load_duration") or 0)
                self.result.prompt_eval_ns = int(counters.get("prompt_eval_duration") or 0)
            elif kind == "token" and text_of(line):
                emit_ns = line.get("sim_emit_ns")
                if emit_ns is not None:
                    emitted.append(int(emit_ns))
                self._token(received_ns, None if emit_ns is None else int(emit_ns))
            elif line.get("type") == "meta":
                self.result.llm = str(line.get("llm") or "")
        if emitted and max(emitted) - min(emitted) > MERGE_THRESHOLD_NS:
            self.result.merged_reads += 1

    def _token(self, received_ns: int, emit_ns: int | None) -> None:
        result = self.result
        if not result.tokens:
            result.first_token_ns = received_ns
            result.first_token_cpu_ns = time.process_time_ns()
        else:
            result.gaps_ns.append(received_ns - self._last_token_ns)
        result.tokens += 1
        if emit_ns is not None:
            result.delays_ns.append(received_ns - emit_ns)
        self._last_token_ns = received_ns


async def _read_response(reads: _Reads, result: StreamResult) -> None:
    buffer = b""
    head = None
    while head is None:
        received_ns, data = await reads.queue.get()
        if data is None:
            raise ConnectionError("closed before the response head")
        buffer += data
        head = split_head(buffer)
    result.status, headers, body = head
    result.served_by = headers.get("x-served-by", "")
    result.server_timing = server_timing(headers.get("server-timing", ""))
    if result.status != 200:
        # An error answer is short; its first bytes say enough, and Connection: close ends it.
        result.error = f"HTTP {result.status}: {body[:200].decode('utf-8', 'replace')}"
        result.end_ns = received_ns
        return
    decoder = ChunkedDecoder() if "chunked" in headers.get("transfer-encoding", "") else None
    timer = LineTimer(result)
    while True:
        if body:
            timer.feed(received_ns, decoder.feed(body) if decoder else body)
        if (decoder and decoder.finished) or timer.done or result.error:
            break
        received_ns, data = await reads.queue.get()
        if data is None:
            break
        body = data
    result.end_ns = received_ns
    if not timer.done and not result.error:
        result.error = "stream ended without a final line"
    result.ok = not result.error


async def _one(
    target: Target,
    context: ssl.SSLContext | None,
    gate: asyncio.Semaphore,
    go: asyncio.Event,
    ready: list[int],
    timeout: float,
) -> StreamResult:
    result = StreamResult()
    loop = asyncio.get_running_loop()
    transport = None
    try:
        async with asyncio.timeout(timeout):
            async with gate:
                start = time.time_ns()
                transport, reads = await loop.create_connection(
                    _Reads,
                    target.host,
                    target.port,
                    ssl=context,
                    server_hostname=(target.server_name or target.host) if context else None,
                )
                result.connect_ns = time.time_ns() - start
            ready.append(1)
            await go.wait()
            result.sent_ns = time.time_ns()
            result.sent_cpu_ns = time.process_time_ns()
            transport.write(target.request())
            await _read_response(reads, result)
    except (OSError, TimeoutError, ValueError, ssl.SSLError) as error:
        result.error = f"{type(error).__name__}: {error}"[:200] or type(error).__name__
        result.end_ns = time.time_ns()
    finally:
        if transport is not None:
            transport.close()
    return result


async def run_streams(target: Target, count: int, timeout: float) -> list[StreamResult]:
    """Open ``count`` connections, then send every request at once and read them all."""
    context = target.ssl_context()
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    go = asyncio.Event()
    ready: list[int] = []
    tasks = [
        asyncio.create_task(_one(target, context, gate, go, ready, timeout)) for _ in range(count)
    ]
    # Release the requests together once every connection is up (or has failed), bounded in time.
    deadline = time.monotonic() + timeout
    while len(ready) < count and time.monotonic() < deadline:
        if all(task.done() for task in tasks):
            break
        await asyncio.sleep(0.01)
    go.set()
    return list(await asyncio.gather(*tasks))


def main(argv: list[str] | None = None) -> None:
    """Run one level from the command line and print the results as JSON (the remote path).

    Extra request headers come on stdin, one "Name: value" per line, because they may carry
    credentials, which must not show in the process list of the machine it runs on.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/api/generate")
    parser.add_argument("--body", required=True, help="JSON request body")
    parser.add_argument("--streams", type=int, required=True)
    parser.add_argument("--sequential", type=int, default=1, help="rounds run one after another")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--tls-ca-file", default="", help="speak TLS, trusting this CA")
    parser.add_argument("--stdin-headers", action="store_true")
    args = parser.parse_args(argv)
    headers: tuple[tuple[str, str], ...] = ()
    if args.stdin_headers:
        pairs = (line.partition(":") for line in sys.stdin.read().splitlines() if line.strip())
        headers = tuple((name.strip(), value.strip()) for name, _, value in pairs)
    target = Target(
        args.host,
        args.port,
        args.path,
        args.body.encode(),
        headers,
        tls=bool(args.tls_ca_file),
        ca_file=args.tls_ca_file,
    )
    results: list[StreamResult] = []
    for _ in range(args.sequential):
        results += asyncio.run(run_streams(target, args.streams, args.timeout))
    json.dump([asdict(r) for r in results], sys.stdout, separators=(",", ":"))


if __name__ == "__main__":
    main()
