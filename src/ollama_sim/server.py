"""The aiohttp application: Ollama's endpoints over simulated models.

Every generate/chat request runs as one asyncio task that sleeps through the phases a real model
goes through (load, prompt evaluation, one decode step per token) and writes each chunk as its own
write, so hundreds of streams cost little and timing is visible to the client as Ollama's would be.
The server runs with handler cancellation on: a client that goes away cancels its task at once,
even while it sleeps in a stall or a load, and a write to a closed connection is caught too.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ollama_sim.config import ModelSpec, SimConfig, normalize_model_name
from ollama_sim.directives import DirectiveError, Directives, parse_directives, strip_directives
from ollama_sim.payloads import (
    BUSY_MESSAGE,
    answer_tokens,
    content_chunk,
    encode_prefix,
    final_chunk,
    not_found_message,
    ps_entry,
    stamp,
    tags_entry,
    token_ids,
    tokenize,
)

log = logging.getLogger("ollama_sim")

NDJSON = "application/x-ndjson"
# How many recent disconnects /sim/stats keeps, so a long load test cannot grow memory.
CANCELLATIONS_KEPT = 100
# What /api/ps shows for a model kept loaded forever (keep_alive < 0): Ollama shows a far date too.
_FOREVER_S = 100 * 365 * 24 * 3600
_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class RequestError(Exception):
    """A request Ollama would refuse before generating; carries the status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def parse_keep_alive(value: Any, default: float) -> float:
    """Seconds from Ollama's ``keep_alive`` (number of seconds or Go duration); < 0 is forever."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise RequestError(400, "keep_alive must be a number of seconds or a duration like 5m")
    if isinstance(value, int | float):
        return float(value)
    text = value.strip()
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    if body.replace(".", "", 1).isdigit():
        return sign * float(body)
    parts = _GO_DURATION.findall(body)
    if not parts or "".join(n + u for n, u in parts) != body:
        raise RequestError(400, f"time: invalid duration {value!r}")
    return sign * sum(float(n) * _GO_UNITS[u] for n, u in parts)


@dataclass
class SimStats:
    """Counters behind ``GET /sim/stats``: how tests and the benchmark see the server's side."""

    active: int = 0
    completed: int = 0
    cancelled: int = 0
    rejected: int = 0
    cancellations: deque[dict[str, Any]] = field(
        default_factory=lambda: deque(maxlen=CANCELLATIONS_KEPT)
    )

    def record_cancel(self, request_id: str | None, path: str, after_tokens: int) -> None:
        """Count a client that went away and log it, without any prompt content."""
        self.cancelled += 1
        entry: dict[str, Any] = {"at_ns": time.time_ns(), "after_tokens": after_tokens}
        if request_id:
            entry["request_id"] = request_id
        self.cancellations.append(entry)
        log.info(
            "client disconnected: %s request_id=%s after_tokens=%d",
            path,
            request_id or "-",
            after_tokens,
        )

    def snapshot(self) -> dict[str, Any]:
        return {
            "active": self.active,
            "completed": self.completed,
            "cancelled": self.cancelled,
            "rejected": self.rejected,
            "cancellations": list(self.cancellations),
        }


class ModelLoader:
    """Which models are "in memory", and the delay of loading one.

    A lock per model makes concurrent first requests wait for one load, as Ollama's scheduler
    does; each request's ``load_duration`` is the time it spent waiting for the model.
    """

    def __init__(self, load_delay: float) -> None:
        self._load_delay = load_delay
        self._locks: dict[str, asyncio.Lock] = {}
        self._expires: dict[str, float] = {}
        self._busy: dict[str, int] = {}
        self._specs: dict[str, ModelSpec] = {}

    def _is_loaded(self, name: str) -> bool:
        return self._busy.get(name, 0) > 0 or self._expires.get(name, 0.0) > time.time()

    async def acquire(self, model: ModelSpec) -> None:
        """Load ``model`` unless it is in memory, and mark it in use."""
        lock = self._locks.setdefault(model.name, asyncio.Lock())
        async with lock:
            if not self._is_loaded(model.name):
                await asyncio.sleep(self._load_delay)
            self._specs[model.name] = model
            self._busy[model.name] = self._busy.get(model.name, 0) + 1

    def release(self, model: ModelSpec, keep_alive: float) -> None:
        """End one use; the model stays loaded for ``keep_alive`` seconds (< 0: forever)."""
        self._busy[model.name] -= 1
        seconds = _FOREVER_S if keep_alive < 0 else keep_alive
        self._expires[model.name] = time.time() + seconds

    def loaded(self) -> list[tuple[ModelSpec, int]]:
        """Loaded models and when they expire (ns since the epoch), for ``/api/ps``."""
        now = time.time()
        return [
            (self._specs[name], int(max(self._expires.get(name, now), now) * 1e9))
            for name in sorted(self._specs)
            if self._is_loaded(name)
        ]


@dataclass(frozen=True)
class Job:
    """One generate or chat request, validated, with everything needed to play it out."""

    kind: str
    label: str
    model: ModelSpec
    stream: bool
    load_only: bool
    directives: Directives
    prompt_tokens: list[str]
    tokens: list[str]
    done_reason: str
    keep_alive: float
    request_id: str | None


async def _read_json(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        raise RequestError(400, "missing request body")
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RequestError(400, f"invalid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise RequestError(400, "request body must be a JSON object")
    return body


def _field(body: dict[str, Any], name: str, kind: type, default: Any) -> Any:
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise RequestError(400, f"field {name!r} has the wrong type")
    return value


def _chat_text(messages: list[Any]) -> tuple[str, str]:
    """All message text (what the prompt evaluates) and the last user message (directives)."""
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("content", ""), str):
            raise RequestError(400, "each message must be an object with string content")
    contents = [m.get("content", "") for m in messages]
    user = [m.get("content", "") for m in messages if m.get("role") == "user"]
    return "\n".join(contents), user[-1] if user else ""


class Simulator:
    """The handlers, the model state and the counters of one running simulator."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.stats = SimStats()
        self.loader = ModelLoader(config.load_delay)
        self.started_ns = time.time_ns()
        self._models = {model.name.lower(): model for model in config.models}

    def find_model(self, name: str) -> ModelSpec | None:
        """Match a requested name like Ollama: ``:latest`` implied, case-insensitive."""
        return self._models.get(normalize_model_name(name).lower())

    def build_job(self, kind: str, body: dict[str, Any], request_id: str | None) -> Job:
        """Validate a generate/chat body into a :class:`Job`, or raise :class:`RequestError`."""
        label = _field(body, "model", str, "")
        if not label:
            raise RequestError(400, "model is required")
        stream = _field(body, "stream", bool, True)
        if kind == "chat":
            messages = _field(body, "messages", list, [])
            evaluated, directive_text = _chat_text(messages)
            load_only = not messages
        else:
            directive_text = _field(body, "prompt", str, "")
            evaluated, load_only = directive_text, not directive_text
        try:
            directives, cleaned = parse_directives(directive_text)
        except DirectiveError as exc:
            raise RequestError(400, str(exc)) from None
        model = self.find_model(label)
        if model is None:
            raise RequestError(404, not_found_message(label))
        options = _field(body, "options", dict, {})
        num_predict = _field(options, "num_predict", int, -1)
        tokens = answer_tokens(
            cleaned if directives.echo else self.config.answer, directives.tokens
        )
        done_reason = "stop"
        if 0 <= num_predict < len(tokens):
            tokens, done_reason = tokens[:num_predict], "length"
        return Job(
            kind=kind,
            label=label,
            model=model,
            stream=stream,
            load_only=load_only,
            directives=directives,
            prompt_tokens=tokenize(strip_directives(evaluated)) or [" "],
            tokens=tokens,
            done_reason=done_reason,
            keep_alive=parse_keep_alive(body.get("keep_alive"), self.config.keep_alive),
            request_id=request_id,
        )

    async def on_root(self, request: web.Request) -> web.Response:
        return web.Response(text="Ollama is running")

    async def on_version(self, request: web.Request) -> web.Response:
        # Ollama's clients read only "version"; the extra field is how a test suite pointed at a
        # deployment tells this simulator from a real Ollama, and aims at it only on purpose.
        return web.json_response({"version": self.config.ollama_version, "simulator": True})

    async def on_tags(self, request: web.Request) -> web.Response:
        models = [tags_entry(model, self.started_ns) for model in self.config.models]
        return web.json_response({"models": models})

    async def on_ps(self, request: web.Request) -> web.Response:
        models = [ps_entry(spec, expires) for spec, expires in self.loader.loaded()]
        return web.json_response({"models": models})

    async def on_stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats.snapshot())

    async def on_generate(self, request: web.Request) -> web.StreamResponse:
        return await self._complete(request, "generate")

    async def on_chat(self, request: web.Request) -> web.StreamResponse:
        return await self._complete(request, "chat")

    async def _complete(self, request: web.Request, kind: str) -> web.StreamResponse:
        try:
            body = await _read_json(request)
            job = self.build_job(kind, body, request.headers.get("X-Request-ID"))
        except RequestError as exc:
            return web.json_response({"error": exc.message}, status=exc.status)
        if job.directives.queue_full or self.stats.active >= self.config.max_queue:
            self.stats.rejected += 1
            return web.json_response({"error": BUSY_MESSAGE}, status=503)
        self.stats.active += 1
        try:
            return await self._play(request, job)
        finally:
            self.stats.active -= 1

    async def _play(self, request: web.Request, job: Job) -> web.StreamResponse:
        """Run a job through load, prompt evaluation and decoding, recording any disconnect."""
        out = _Output(request, job)
        started = time.monotonic_ns()
        acquired = False
        try:
            # A [[sim:load=S]] slow load is this request's own, outside the model's lock, so it
            # never holds up other requests.
            await asyncio.sleep(job.directives.load)
            await self.loader.acquire(job.model)
            acquired = True
            load_ns = time.monotonic_ns() - started
            response = await self._generate(out, job, started, load_ns)
        except (asyncio.CancelledError, ConnectionResetError):
            # Cancelled: the connection closed (handler cancellation is on). ConnectionResetError
            # (aiohttp's ClientConnectionResetError): a write met a socket that is closing.
            # aiohttp treats a ConnectionError from a handler as a client gone, so re-raise both.
            self.stats.record_cancel(job.request_id, request.path, out.sent_tokens)
            raise
        finally:
            if acquired:
                self.loader.release(job.model, job.keep_alive)
        self.stats.completed += 1
        return response

    async def _generate(
        self, out: _Output, job: Job, started: int, load_ns: int
    ) -> web.StreamResponse:
        loop = asyncio.get_running_loop()
        if job.load_only:
            reason = "unload" if job.keep_alive == 0 else "load"
            body = content_chunk(job.kind, job.label, "", done=True) | {"done_reason": reason}
            return await out.finish(body)
        prompt_started = time.monotonic_ns()
        await asyncio.sleep(self.config.time_to_first_token + job.directives.stall)
        eval_started = time.monotonic_ns()
        prompt_ns = eval_started - prompt_started
        interval = 1.0 / (job.directives.tps or self.config.tokens_per_second)
        first_at = loop.time()
        error_after = job.directives.error_after
        for index, token in enumerate(job.tokens):
            if index == error_after:
                return await out.fail(f"simulated error after {index} tokens")
            await _sleep_until(first_at + index * interval)
            await out.token(token)
        if error_after is not None:
            return await out.fail(f"simulated error after {len(job.tokens)} tokens")
        # The last decode step produces the end-of-sequence token, as in a real model.
        await _sleep_until(first_at + len(job.tokens) * interval)
        now = time.monotonic_ns()
        body = final_chunk(
            job.kind,
            job.label,
            "" if job.stream else out.text,
            done_reason=job.done_reason,
            durations={
                "total": now - started,
                "load": load_ns,
                "prompt_eval": prompt_ns,
                "eval": now - eval_started,
            },
            prompt_eval_count=len(job.prompt_tokens),
            eval_count=len(job.tokens),
            context=token_ids(job.prompt_tokens + job.tokens),
        )
        return await out.finish(body)


async def _sleep_until(deadline: float) -> None:
    """Sleep to an absolute loop time, so token pacing does not drift under load."""
    await asyncio.sleep(max(0.0, deadline - asyncio.get_running_loop().time()))


class _Output:
    """Where a job's chunks go: one write per chunk when streaming, one JSON body otherwise.

    Headers go out with the first chunk, as Ollama's do, so a stall or a load shows as a wait.
    """

    def __init__(self, request: web.Request, job: Job) -> None:
        self._request = request
        self._job = job
        self.response: web.StreamResponse | None = None
        self.sent_tokens = 0
        self._parts: list[str] = []

    @property
    def text(self) -> str:
        return "".join(self._parts)

    async def _write(self, body: dict[str, Any]) -> web.StreamResponse:
        prefix = encode_prefix(body)
        if self.response is None:
            self.response = web.StreamResponse(headers={"Content-Type": NDJSON})
            await self.response.prepare(self._request)
        await self.response.write(stamp(prefix))
        return self.response

    async def token(self, text: str) -> None:
        if self._job.stream:
            await self._write(content_chunk(self._job.kind, self._job.label, text, done=False))
        else:
            self._parts.append(text)
        self.sent_tokens += 1

    async def finish(self, body: dict[str, Any]) -> web.StreamResponse:
        if not self._job.stream:
            return web.Response(body=stamp(encode_prefix(body)), content_type="application/json")
        response = await self._write(body)
        await response.write_eof()
        return response

    async def fail(self, message: str) -> web.StreamResponse:
        """Ollama's mid-stream error: a line with status 200, or a 500 when not streaming."""
        if not self._job.stream:
            return web.json_response({"error": message}, status=500)
        return await self.finish({"error": message})


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def access_log(request: web.Request, handler: Handler) -> web.StreamResponse:
    """One line per request with method, path, status and duration; never the body."""
    started = time.monotonic()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except (asyncio.CancelledError, ConnectionError):
        # 499 is the usual log code for "client closed the connection before the answer".
        status = 499
        raise
    finally:
        elapsed_ms = (time.monotonic() - started) * 1000
        log.info("%s %s %d %.1fms", request.method, request.path, status, elapsed_ms)


def create_app(config: SimConfig) -> web.Application:
    """Build the application; run it with handler cancellation on (see :func:`serve`)."""
    sim = Simulator(config)
    app = web.Application(middlewares=[access_log])
    app.router.add_get("/", sim.on_root)
    app.router.add_get("/api/version", sim.on_version)
    app.router.add_get("/api/tags", sim.on_tags)
    app.router.add_get("/api/ps", sim.on_ps)
    app.router.add_post("/api/generate", sim.on_generate)
    app.router.add_post("/api/chat", sim.on_chat)
    app.router.add_get("/sim/stats", sim.on_stats)
    return app


async def serve(config: SimConfig, stop: asyncio.Event) -> None:
    """Serve until ``stop`` is set; logs the bound address (port 0 picks a free one)."""
    runner = web.AppRunner(
        create_app(config), handler_cancellation=True, access_log=None, shutdown_timeout=2.0
    )
    await runner.setup()
    # A deep backlog so a burst of hundreds of connections is not refused by the kernel.
    site = web.TCPSite(runner, config.host, config.port, backlog=1024)
    await site.start()
    for host, port, *_ in runner.addresses:
        log.info("listening on http://%s:%d", host, port)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
