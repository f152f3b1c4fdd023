"""Helpers to call the app through wsgiref's validator, with Ollama faked by httpx.MockTransport.

No server and no network: the validator fails loudly on any WSGI protocol mistake, and the
fake upstream records what the app sent and whether it closed the stream.
"""

import io
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from wsgiref.util import setup_testing_defaults
from wsgiref.validate import validator

import httpx
from argon2 import PasswordHasher

ORIGIN = "http://127.0.0.1"
PASSWORD = "correct horse battery staple"
# Production uses argon2-cffi's default (slow on purpose); tests need the same algorithm, cheaper.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def chunk(text: str, **extra: Any) -> dict[str, Any]:
    """One streamed /api/chat chunk."""
    return {
        "model": "m1",
        "message": {"role": "assistant", "content": text},
        "done": False,
        **extra,
    }


DONE = {
    "model": "m1",
    "message": {"role": "assistant", "content": ""},
    "done": True,
    "done_reason": "stop",
    "total_duration": 900_000_000,
    "load_duration": 100_000_000,
    "prompt_eval_count": 4,
    "prompt_eval_duration": 50_000_000,
    "eval_count": 3,
    "eval_duration": 600_000_000,
}


class RecordingStream(httpx.SyncByteStream):
    """An upstream body that counts what it handed out and notices when it is closed."""

    def __init__(self, lines: list[bytes], fail_after: int | None = None) -> None:
        self.lines = lines
        self.fail_after = fail_after
        self.pulled = 0
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        for line in self.lines:
            if self.fail_after is not None and self.pulled >= self.fail_after:
                raise httpx.ReadTimeout("slow")
            self.pulled += 1
            yield line

    def close(self) -> None:
        self.closed = True


@dataclass
class FakeOllama:
    """The upstream's behaviour for one test; change fields before calling the app."""

    models: list[str] = field(default_factory=lambda: ["m1", "m2"])
    chunks: list[dict[str, Any]] = field(
        default_factory=lambda: [chunk("Hel"), chunk("lo", sim_emit_ns=123), chunk("!"), DONE]
    )
    status: int = 200
    error_body: dict[str, Any] | str = field(default_factory=lambda: {"error": "boom"})
    headers: dict[str, str] = field(default_factory=dict)
    exception: Exception | None = None
    # The path that status and exception apply to; None: every path.
    failing_path: str | None = None
    fail_after: int | None = None
    # While set, /api/tags answers only once this event is set (a slow machine).
    tags_gate: threading.Event | None = None
    requests: list[httpx.Request] = field(default_factory=list)
    streams: list[RecordingStream] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        failing = self.failing_path in (None, request.url.path)
        if failing and self.exception is not None:
            raise self.exception
        if failing and self.status != 200:
            if isinstance(self.error_body, str):  # a page of the gateway, not Ollama's JSON
                return httpx.Response(self.status, text=self.error_body, headers=self.headers)
            return httpx.Response(self.status, json=self.error_body, headers=self.headers)
        if request.url.path == "/api/tags":
            if self.tags_gate is not None:
                self.tags_gate.wait(timeout=10)
            return httpx.Response(200, json={"models": [{"name": m} for m in self.models]})
        if request.url.path == "/api/version":
            return httpx.Response(200, json={"version": "0.0.0-fake"})
        body = json.loads(request.content)
        if not body["stream"]:
            text = "".join(c.get("message", {}).get("content", "") for c in self.chunks)
            message = {"role": "assistant", "content": text}
            return httpx.Response(
                200, json={**self.chunks[-1], "message": message}, headers=self.headers
            )
        stream = RecordingStream(
            [json.dumps(c).encode() + b"\n" for c in self.chunks], self.fail_after
        )
        self.streams.append(stream)
        headers = {"content-type": "application/x-ndjson", **self.headers}
        return httpx.Response(200, stream=stream, headers=headers)

    def paths(self) -> list[str]:
        """The paths asked, in order."""
        return [r.url.path for r in self.requests]


class FakeMachines:
    """Several LLM machines behind one transport, told apart by the host of the request URL."""

    def __init__(self, **machines: FakeOllama) -> None:
        self.machines = machines

    def handle(self, request: httpx.Request) -> httpx.Response:
        return self.machines[request.url.host].handle(request)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def urls(self) -> str:
        """WEBUI_OLLAMA_URL for these machines."""
        return " ".join(f"http://{host}:11434" for host in self.machines)


class FakeClock:
    """A monotonic clock that moves only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Result:
    """What the app answered."""

    status: int
    headers: dict[str, str]
    header_list: list[tuple[str, str]]
    chunks: list[bytes]

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    def json(self) -> Any:
        return json.loads(self.body)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.body.splitlines()]


def environ_for(
    method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """A testing environ (127.0.0.1:80 over http) with the Origin of any non-GET set to ours."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "HTTP_HOST": "127.0.0.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(body),
    }
    if body:
        environ["CONTENT_LENGTH"] = str(len(body))
    if method != "GET":
        environ["HTTP_ORIGIN"] = ORIGIN
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
    setup_testing_defaults(environ)
    return {k: v for k, v in environ.items() if v is not None}


def call(
    app: Any,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    drop: tuple[str, ...] = (),
) -> Result:
    """Run one request through the validator and read the whole body."""
    environ = environ_for(method, path, body, headers)
    for key in drop:
        environ.pop(key, None)
    seen: dict[str, Any] = {}

    def start_response(status: str, header_list: list[tuple[str, str]], exc_info: Any = None):
        seen["status"], seen["headers"] = status, header_list
        return lambda data: None

    iterable = validator(app)(environ, start_response)
    try:
        chunks = list(iterable)
    finally:
        iterable.close()
    header_list = seen["headers"]
    return Result(
        int(seen["status"].split()[0]),
        {k.lower(): v for k, v in header_list},
        header_list,
        chunks,
    )


def ask_body(question: str = "Why is the sky blue?", **fields: Any) -> bytes:
    return json.dumps({"question": question, "model": "m1", "stream": True, **fields}).encode()


JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
