"""The WSGI application: small pure helpers first, then one class with an ``on_<endpoint>`` each.

No framework: the routes are few, and a plain callable makes every byte of the streaming path
visible, which is what lets an answer reach the browser chunk by chunk.
"""

import json
import logging
import mimetypes
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from html import escape
from http import HTTPStatus
from pathlib import Path
from string import Template
from typing import Any, ClassVar, NamedTuple
from urllib.parse import parse_qs, urlsplit

import httpx
from argon2 import PasswordHasher

from webui.auth import LOCAL_USER, SESSION_COOKIE, Accounts
from webui.backends import Backend, Backends
from webui.ollama import DONE_FIELDS, BackendError, Messages, message_text, stream_chunks
from webui.settings import Settings
from webui.store import DatabaseUnavailable, SchemaMismatch, Store, Turn

log = logging.getLogger("webui")

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_PORTS = {"http": 80, "https": 443}
CONVERSATIONS_PREFIX = "/api/conversations/"
# Conversation ids are made by secrets.token_urlsafe; anything else names no conversation.
CONVERSATION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
TITLE_CHARS = 80
# How long a turn's write is retried while the database is unavailable, in seconds: long enough
# for a restart and the pool's reconnection after it (together up to about 8 s on a busy machine),
# short enough that the page learns soon that the turn was not kept. The answer is already shown.
SAVE_SECONDS = 15.0
RETRY_AFTER_SECONDS = "5"
DATABASE_MESSAGE = "The database is not available right now. Please try again in a moment."
# Asked for by a browser navigating (the page, the login form, logging out), so answered as a page.
HTML_ENDPOINTS = frozenset({"index", "login", "logout"})

SECURITY_HEADERS = [
    (
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
]

StartResponse = Callable[..., Any]
Headers = list[tuple[str, str]]


class HTTPError(Exception):
    """A request refused before any answer was sent; becomes a JSON or HTML error response."""

    def __init__(self, status: int, code: str, message: str, headers: Headers | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or []


@dataclass
class Response:
    """What a handler returns; the app adds the headers every response carries."""

    status: int
    body: Iterable[bytes]
    headers: Headers = field(default_factory=list)


def status_line(status: int) -> str:
    """``"404 Not Found"`` from ``404``."""
    return f"{status} {HTTPStatus(status).phrase}"


def whole_response(
    status: int,
    body: bytes,
    content_type: str,
    headers: Headers | None = None,
    cache_control: str = "no-store",
) -> Response:
    """A body sent in one piece; by default no cache keeps it (answers and pages are per user)."""
    return Response(
        status,
        [body],
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Cache-Control", cache_control),
            *(headers or []),
        ],
    )


def json_response(status: int, data: Any, headers: Headers | None = None) -> Response:
    """A JSON response that no cache keeps."""
    return whole_response(status, json.dumps(data).encode(), "application/json", headers)


def error_response(error: HTTPError | BackendError) -> Response:
    """The contract's ``{"error": {"code", "message"}}`` body with the error's status."""
    if isinstance(error, HTTPError):
        headers = list(error.headers)
    else:
        headers = [("Retry-After", error.retry_after)] if error.retry_after else []
    body = {"error": {"code": error.code, "message": error.message}}
    return json_response(error.status, body, headers)


def html_response(status: int, page: str, headers: Headers | None = None) -> Response:
    """An HTML page; pages may carry a login form, so they are not cached either."""
    return whole_response(status, page.encode(), "text/html; charset=utf-8", headers)


def page_template(
    templates: Path, name: str, title: str, scripts: tuple[str, ...] = ()
) -> Template:
    """The page whose body is in ``name``, inside the layout every page shares.

    What comes back is still a template: the body's own ``$`` fields are filled per request.
    """
    layout = Template((templates / "layout.html").read_text("utf-8"))
    page = layout.substitute(
        title=escape(title),
        scripts="".join(f'<script src="{escape(src)}" defer></script>\n' for src in scripts),
        body=(templates / name).read_text("utf-8"),
    )
    return Template(page)


def redirect(location: str, headers: Headers | None = None) -> Response:
    """303 See Other, so the browser follows a POST with a GET."""
    return Response(
        303,
        [b""],
        [
            ("Location", location),
            ("Content-Type", "text/plain"),
            ("Content-Length", "0"),
            *(headers or []),
        ],
    )


def ndjson_line(event: dict[str, Any]) -> bytes:
    """One event of the answer stream; the newline is what the page splits on."""
    return json.dumps(event, separators=(",", ":")).encode() + b"\n"


def milliseconds(seconds: float) -> float:
    """Durations in the app's timings are milliseconds rounded to 0.1."""
    return round(seconds * 1000, 1)


def read_body(environ: dict[str, Any], limit: int) -> bytes:
    """Read exactly CONTENT_LENGTH bytes, refusing a larger body before reading any of it."""
    text = environ.get("CONTENT_LENGTH") or "0"
    try:
        length = int(text)
    except ValueError:
        raise HTTPError(
            400, "invalid_field", "The Content-Length header is not a number."
        ) from None
    if length < 0:
        raise HTTPError(400, "invalid_field", "The Content-Length header is negative.")
    if length > limit:
        raise HTTPError(413, "too_large", f"The request is larger than {limit} bytes.")
    return environ["wsgi.input"].read(length) if length else b""


def media_type(environ: dict[str, Any]) -> str:
    """The request's media type without parameters such as charset."""
    return environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower()


def _first(value: str) -> str:
    return value.split(",")[0].strip()


def origin_tuple(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin or URL, with default ports filled in; None if unusable."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.lower(), port or DEFAULT_PORTS[parts.scheme]


def own_origin(environ: dict[str, Any], trust_proxy: bool) -> tuple[str, str, int] | None:
    """The origin the browser used to reach us (as the proxy reports it, if we trust it)."""
    scheme = environ["wsgi.url_scheme"]
    host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
    if trust_proxy:
        scheme = _first(environ.get("HTTP_X_FORWARDED_PROTO", "")) or scheme
        host = _first(environ.get("HTTP_X_FORWARDED_HOST", "")) or host
    return origin_tuple(f"{scheme}://{host}")


def same_origin(environ: dict[str, Any], trust_proxy: bool) -> bool:
    """CSRF check for every request but GET: Origin (or else Referer) must be our own origin."""
    claimed = environ.get("HTTP_ORIGIN") or environ.get("HTTP_REFERER") or ""
    mine = own_origin(environ, trust_proxy)
    return mine is not None and origin_tuple(claimed) == mine


def client_address(environ: dict[str, Any], trust_proxy: bool) -> str:
    """The browser's address: behind our HAProxy, the last X-Forwarded-For entry it appended."""
    forwarded = environ.get("HTTP_X_FORWARDED_FOR", "")
    if trust_proxy and forwarded:
        return forwarded.split(",")[-1].strip()
    return environ.get("REMOTE_ADDR", "")


def cookies(environ: dict[str, Any]) -> dict[str, str]:
    """Request cookies by name (the first one wins, as browsers send the most specific first)."""
    jar: dict[str, str] = {}
    for part in environ.get("HTTP_COOKIE", "").split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name not in jar:
            jar[name] = value
    return jar


def session_cookie(value: str, max_age: int) -> tuple[str, str]:
    """The ``__Host-`` prefix makes browsers insist on Secure, Path=/ and no Domain."""
    return (
        "Set-Cookie",
        f"{SESSION_COOKIE}={value}; Max-Age={max_age}; Path=/; Secure; HttpOnly; SameSite=Strict",
    )


class Question(NamedTuple):
    """A valid ``/api/ask`` body."""

    text: str
    model: str | None
    stream: bool
    conversation: str | None  # None: start a new conversation


def parse_question(body: bytes, max_chars: int) -> Question:
    """Validate the ``/api/ask`` body."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: JSON nested deeper than Python recurses
        raise HTTPError(400, "invalid_json", "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise HTTPError(400, "invalid_json", "The request body must be a JSON object.")
    question, model, stream = data.get("question"), data.get("model"), data.get("stream", True)
    conversation = data.get("conversation")
    if question is None or (isinstance(question, str) and not question.strip()):
        raise HTTPError(400, "empty_question", "Please type a question first.")
    if not isinstance(question, str):
        raise HTTPError(400, "invalid_field", "The question must be text.")
    if len(question) > max_chars:
        raise HTTPError(413, "too_large", f"The question is longer than {max_chars} characters.")
    if model is not None and (not isinstance(model, str) or not model.strip()):
        raise HTTPError(400, "invalid_field", "The model must be a model name or null.")
    if not isinstance(stream, bool):
        raise HTTPError(400, "invalid_field", "The stream field must be true or false.")
    if conversation is not None and not isinstance(conversation, str):
        raise HTTPError(400, "invalid_field", "The conversation must be an id or null.")
    return Question(question, model, stream, conversation)


def conversation_not_found() -> HTTPError:
    """The same answer for an id that never existed and for another user's."""
    return HTTPError(404, "conversation_not_found", "There is no such conversation.")


def conversation_title(question: str) -> str:
    """A conversation is named after its first question's first line, cut to fit a list."""
    line = question.strip().splitlines()[0].strip()
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rstrip() + "…"


def chat_messages(history: list[tuple[str, str]], question: str) -> Messages:
    """The earlier turns as context, then the new question, as /api/chat takes them."""
    messages: Messages = []
    for asked, answered in history:
        messages += [{"role": "user", "content": asked}, {"role": "assistant", "content": answered}]
    return [*messages, {"role": "user", "content": question}]


def nanoseconds_to_ms(value: Any) -> float | None:
    """Ollama's durations (ns) as the app's milliseconds; None when Ollama gave none."""
    return round(value / 1e6, 1) if isinstance(value, int | float) else None


def chunk_events(chunk: dict[str, Any]) -> list[dict[str, Any]]:
    """The page's events for one Ollama chunk: a token, a mid-stream error, and/or the end."""
    if "error" in chunk:
        message = f"The model server failed during the answer: {chunk['error']}"
        return [{"type": "error", "code": "backend_error", "message": message}]
    events: list[dict[str, Any]] = []
    text = message_text(chunk)
    if text:
        token: dict[str, Any] = {"type": "token", "text": text}
        if "sim_emit_ns" in chunk:
            token["sim_emit_ns"] = chunk["sim_emit_ns"]
        events.append(token)
    if chunk.get("done"):
        events.append({"type": "done", "ollama": {k: chunk.get(k) for k in DONE_FIELDS}})
    return events


@dataclass
class Answer:
    """A turn in the making: the answer so far, and its one write when it ends."""

    user: str
    conversation: str
    turn: str
    question: str
    model: str
    mode: str
    node: str
    llm: str
    asked_at: float
    started: float  # time.perf_counter() when the request came in
    save: Callable[[str, Turn], bool]
    parts: list[str] = field(default_factory=list)
    first_token: float | None = None
    timings: dict[str, Any] = field(default_factory=dict)
    saved: bool | None = None  # None until the answer ended

    def provenance(self) -> dict[str, str]:
        """Where the answer comes from and where it is kept, as the page's events name them."""
        return {
            "request_id": self.turn,
            "node": self.node,
            "llm": self.llm,
            "model": self.model,
            "conversation": self.conversation,
            "turn": self.turn,
        }

    def add(self, text: str) -> None:
        """A token arrived."""
        if self.first_token is None:
            self.first_token = time.perf_counter()
        self.parts.append(text)

    def end(
        self, status: str, error: str | None = None, ollama: dict[str, Any] | None = None
    ) -> bool:
        """Write the turn as it ended, the first time only; returns whether it was kept."""
        if self.saved is not None:
            return self.saved
        ollama = ollama or {}
        self.timings = {
            "first_token_ms": (
                milliseconds(self.first_token - self.started) if self.first_token else None
            ),
            "total_ms": milliseconds(time.perf_counter() - self.started),
            "eval_count": ollama.get("eval_count"),
            "eval_duration_ms": nanoseconds_to_ms(ollama.get("eval_duration")),
            "total_duration_ms": nanoseconds_to_ms(ollama.get("total_duration")),
        }
        turn = Turn(
            id=self.turn,
            conversation_id=self.conversation,
            question=self.question,
            answer="".join(self.parts),
            model=self.model,
            mode=self.mode,
            status=status,
            error=error,
            node=self.node,
            llm=self.llm,
            asked_at=self.asked_at,
            timings=self.timings,
        )
        self.saved = self.save(self.user, turn)
        return self.saved


def answer_events(
    chunks: Iterator[dict[str, Any]], meta: dict[str, Any], answer: Answer
) -> Iterator[bytes]:
    """The NDJSON body of a streamed answer: meta, tokens, then exactly one done or error.

    The turn is written as the answer ends: before the done or error event, so that ``done``
    can say whether it was kept; a client gone away leaves it to AnswerStream.close().
    """
    yield ndjson_line(meta)
    outcome = "cancelled"
    try:
        for chunk in chunks:
            for event in chunk_events(chunk):
                if event["type"] == "token":
                    answer.add(event["text"])
                elif event["type"] == "done":
                    event["saved"] = answer.end("done", ollama=event["ollama"])
                    event["app"] = {
                        "upstream_headers_ms": meta["upstream_headers_ms"],
                        "first_token_ms": answer.timings["first_token_ms"],
                        "total_ms": answer.timings["total_ms"],
                    }
                else:
                    answer.end("failed", error=event["message"])
                if event["type"] in ("done", "error"):
                    outcome = event.get("code", "done")
                    yield ndjson_line(event)
                    if event["type"] == "done":
                        # Ollama ends the body right after its done chunk. Reading that end lets
                        # the connection go back to the pool; closing the body before it would
                        # close the connection, and the next question would pay for a new TLS
                        # handshake with the gateway (measured: 6 ms of time to first token).
                        for _ in chunks:
                            pass
                    return
                yield ndjson_line(event)
        outcome = "backend_error"
        message = "The model server ended the answer before it was complete."
        answer.end("failed", error=message)
        yield ndjson_line({"type": "error", "code": "backend_error", "message": message})
    except BackendError as exc:
        outcome = exc.code
        answer.end("failed", error=exc.message)
        yield ndjson_line({"type": "error", "code": exc.code, "message": exc.message})
    finally:
        log.info("ask %s ended: %s", meta["request_id"], outcome)


class AnswerStream:
    """The WSGI body of a streamed answer.

    Its close() closes the upstream response even when the body was never iterated (a generator
    closed before it started would skip its ``finally``). Closing the upstream connection is how
    Ollama learns that the browser went away, so it stops generating. Then the LLM machine counts
    one question fewer in flight, which is what spreads the next questions. Last, an answer the
    browser left before its end is written as stopped, as far as it got.
    """

    def __init__(
        self, events: Iterator[bytes], upstream: httpx.Response, backend: Backend, answer: Answer
    ) -> None:
        self._events = events
        self._upstream = upstream
        self._backend: Backend | None = backend
        self._answer = answer

    def __iter__(self) -> Iterator[bytes]:
        return self._events

    def close(self) -> None:
        """Called by the WSGI server when the response ends or the client disconnects."""
        try:
            self._events.close()  # type: ignore[attr-defined]
        finally:
            try:
                self._upstream.close()
            finally:
                try:
                    # Once only, should a server call close() twice.
                    backend, self._backend = self._backend, None
                    if backend is not None:
                        backend.finish()
                finally:
                    self._answer.end("stopped")


# One entry of a gateway's Server-Timing header, as the app passes it on.
GATEWAY_TIMING = re.compile(r"\s*(gateway(?:-[a-z]+)*)\s*;\s*dur=([0-9]{1,9}(?:\.[0-9]{1,6})?)\s*")
# Where the app keeps, in the WSGI environ, the moment it received the request.
RECEIVED = "webui.received"


def gateway_timing(header: str) -> dict[str, float]:
    """The gateway's own entries of an upstream ``Server-Timing`` header, in ms; anything else
    the header holds is dropped rather than passed on to the browser."""
    spans = {}
    for entry in header.split(","):
        match = GATEWAY_TIMING.fullmatch(entry)
        if match:
            spans[match[1]] = float(match[2])
    return spans


def handoff_ms(environ: dict[str, Any]) -> dict[str, float]:
    """``app-handoff``: from Apache accepting the request to the app receiving it (mod_wsgi's
    hand-off to its daemon), when mod_wsgi says when it accepted it (microseconds since the
    epoch); nothing under another server."""
    accepted = environ.get("mod_wsgi.request_start")
    if not accepted or not str(accepted).isdigit():
        return {}
    return {"app-handoff": max(0.0, time.time() * 1000 - int(accepted) / 1000)}


def server_timing(
    handoff: dict[str, float],
    started: float,
    checked: float,
    answered: float,
    upstream: httpx.Headers,
) -> tuple[str, str]:
    """The ``Server-Timing`` header of an answer, for browser dev tools, the page and the
    benchmark: mod_wsgi's hand-off, the app's own work until it asked the model (``started`` to
    ``checked``), its wait for the gateway's headers (to ``answered``), and the gateway's own
    entries."""
    spans = {
        **handoff,
        "app": (checked - started) * 1000,
        "app-gateway": (answered - checked) * 1000,
        **gateway_timing(upstream.get("server-timing", "")),
    }
    return ("Server-Timing", ", ".join(f"{name};dur={ms:.3f}" for name, ms in spans.items()))


class WebUI:
    """The application: routes to ``on_<endpoint>`` methods and adds the common headers."""

    ROUTES: ClassVar[dict[str, tuple[str, tuple[str, ...]]]] = {
        "/": ("index", ("GET",)),
        "/login": ("login", ("GET", "POST")),
        "/logout": ("logout", ("POST",)),
        "/api/ask": ("ask", ("POST",)),
        "/api/models": ("models", ("GET",)),
        "/api/conversations": ("conversations", ("GET", "DELETE")),
        "/healthz": ("healthz", ("GET",)),
        "/readyz": ("readyz", ("GET",)),
    }
    # Reachable without a session: logging in and out, health checks and the page's assets.
    PUBLIC = frozenset({"login", "logout", "healthz", "readyz", "static"})
    # Those that do not even look at the session, so they never wait for the database.
    SESSIONLESS = frozenset({"logout", "healthz", "readyz", "static"})

    def __init__(
        self,
        settings: Settings,
        backends: Backends,
        store: Store,
        clock: Callable[[], float] = time.time,
        hasher: PasswordHasher | None = None,
    ) -> None:
        self.settings = settings
        self.backends = backends
        self.store = store
        self.accounts = Accounts(store, settings, hasher, clock)
        self.clock = clock
        self.save_seconds = SAVE_SECONDS
        self.static_dir = PACKAGE_DIR / "static"
        # Only files present at start-up are served, so no request path can name another file.
        self.static_files = {
            p.name: p for p in self.static_dir.iterdir() if p.is_file() and p.name[0] != "."
        }
        templates = PACKAGE_DIR / "templates"
        self.index_template = page_template(templates, "index.html", "Ask", ("/static/app.js",))
        self.login_template = page_template(templates, "login.html", "Log in · Ask")
        self.unavailable_page = page_template(
            templates, "unavailable.html", "Unavailable · Ask"
        ).substitute(message=escape(DATABASE_MESSAGE))
        if not settings.require_login:
            try:
                self.accounts.ensure_local_user()
            except DatabaseUnavailable as exc:
                log.warning("cannot record the local user yet: %s", exc)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        environ[RECEIVED] = time.perf_counter()
        response = self.dispatch(environ)
        headers = [
            *response.headers,
            *SECURITY_HEADERS,
            ("X-Served-By", self.settings.node_name),
        ]
        start_response(status_line(response.status), headers)
        return response.body

    def dispatch(self, environ: dict[str, Any]) -> Response:
        """Find the endpoint, apply method, CSRF and login checks, and call its handler."""
        path = environ.get("PATH_INFO", "") or "/"
        method = environ["REQUEST_METHOD"]
        methods: tuple[str, ...]
        if path.startswith("/static/"):
            endpoint, methods = "static", ("GET",)
        elif path.startswith(CONVERSATIONS_PREFIX):
            endpoint, methods = "conversation", ("GET", "DELETE")
        elif path in self.ROUTES:
            endpoint, methods = self.ROUTES[path]
        else:
            return error_response(HTTPError(404, "not_found", f"There is no page at {path}."))
        try:
            if method not in methods:
                raise HTTPError(
                    405,
                    "method_not_allowed",
                    f"{path} accepts {' and '.join(methods)} only.",
                    [("Allow", ", ".join(methods))],
                )
            if method != "GET" and not same_origin(environ, self.settings.trust_proxy):
                raise HTTPError(403, "bad_origin", "This request did not come from this site.")
            user = None if endpoint in self.SESSIONLESS else self.current_user(environ)
            if endpoint not in self.PUBLIC and user is None:
                if endpoint == "index":
                    return redirect("/login")
                raise HTTPError(401, "login_required", "Please log in first.")
            handler = getattr(self, f"on_{endpoint}")
            return handler(environ, user)
        except (HTTPError, BackendError) as error:
            return error_response(error)
        except DatabaseUnavailable as exc:
            log.warning("database unavailable on %s %s: %s", method, path, exc)
            headers = [("Retry-After", RETRY_AFTER_SECONDS)]
            if endpoint in HTML_ENDPOINTS:
                return html_response(503, self.unavailable_page, headers)
            return error_response(HTTPError(503, "database_unavailable", DATABASE_MESSAGE, headers))
        except Exception:
            # Answer with our headers and a plain sentence; the details go to the log only.
            log.exception("unexpected error on %s %s", method, path)
            return error_response(
                HTTPError(500, "internal_error", "Something went wrong on our side.")
            )

    def current_user(self, environ: dict[str, Any]) -> str | None:
        """The user of the request's session; with login off, the one local user."""
        if not self.settings.require_login:
            return LOCAL_USER
        token = cookies(environ).get(SESSION_COOKIE, "")
        return self.accounts.session_user(token) if token else None

    def on_index(self, environ: dict[str, Any], user: str | None) -> Response:
        """The question page."""
        page = self.index_template.substitute(
            node=escape(self.settings.node_name),
            logout_hidden="" if self.settings.require_login else " hidden",
        )
        return html_response(200, page)

    def on_static(self, environ: dict[str, Any], user: str | None) -> Response:
        """The page's CSS and JS, by exact name only."""
        path = self.static_files.get(environ["PATH_INFO"].removeprefix("/static/"))
        if path is None:
            raise HTTPError(404, "not_found", "There is no such file.")
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind.endswith("javascript"):
            kind += "; charset=utf-8"
        return whole_response(200, path.read_bytes(), kind, cache_control="no-cache")

    def login_page(
        self, status: int, message: str, username: str = "", headers: Headers | None = None
    ) -> Response:
        """The login form, keeping the typed user name; everything inserted is escaped."""
        notice = f'<p class="error" role="alert">{escape(message)}</p>' if message else ""
        page = self.login_template.substitute(
            message=notice, username=escape(username), node=escape(self.settings.node_name)
        )
        return html_response(status, page, headers)

    def on_login(self, environ: dict[str, Any], user: str | None) -> Response:
        """Show the form, or check credentials with throttling shared by every web machine."""
        if not self.settings.require_login:
            return redirect("/")
        if environ["REQUEST_METHOD"] == "GET":
            return redirect("/") if user else self.login_page(200, "")
        if media_type(environ) != "application/x-www-form-urlencoded":
            raise HTTPError(415, "unsupported_media_type", "Send the login form as a form.")
        form = parse_qs(read_body(environ, self.settings.max_body_bytes).decode("utf-8", "replace"))
        username = form.get("username", [""])[0].strip()
        password = form.get("password", [""])[0]
        keys = [f"user:{username}", f"addr:{client_address(environ, self.settings.trust_proxy)}"]
        wait = self.accounts.retry_after(keys)
        if wait:
            return self.login_page(
                429,
                f"Too many failed logins. Please try again in {wait} seconds.",
                username,
                [("Retry-After", str(wait))],
            )
        if not username or not self.accounts.check_password(username, password):
            self.accounts.record_failure(keys)
            log.warning("failed login for %r from %s", username[:64], keys[1])
            return self.login_page(401, "Wrong user name or password.", username)
        self.accounts.clear_failures(keys[0])
        token = self.accounts.start_session(username)
        return redirect("/", [session_cookie(token, self.settings.session_ttl_seconds)])

    def on_logout(self, environ: dict[str, Any], user: str | None) -> Response:
        """End the session for every web machine, and forget it in this browser."""
        token = cookies(environ).get(SESSION_COOKIE, "")
        if token and self.settings.require_login:
            self.accounts.end_session(token)
        return redirect("/login", [session_cookie("", 0)])

    def on_healthz(self, environ: dict[str, Any], user: str | None) -> Response:
        """Liveness: the process answers; deliberately no backend call."""
        return json_response(200, {"status": "ok"})

    def on_readyz(self, environ: dict[str, Any], user: str | None) -> Response:
        """Readiness: some Ollama answers through its gateway with our credentials, so this
        machine can answer questions; each LLM machine's state is listed for operators.

        The database's state is listed too, but does not make the machine unready: every web
        machine shares the one database, so failing here would take them all out of the load
        balancer at once, and people would get the balancer's bare 503 instead of the app's
        page saying that the database is unavailable.
        """
        states = self.backends.states()
        database = self.database_state()
        ready = [state for state in states if state["status"] == "ready"]
        if ready:
            status, summary = 200, {"status": "ready", "ollama_version": ready[0]["ollama_version"]}
        else:
            status, summary = 503, {"status": "unready", "reason": states[0]["reason"]}
        return json_response(status, {**summary, "backends": states, "database": database})

    def database_state(self) -> dict[str, Any]:
        """The database for /readyz: reachable with the schema this app knows, or not."""
        try:
            self.store.check_schema()
        except SchemaMismatch as exc:
            return {"status": "unavailable", "reason": str(exc)}
        except DatabaseUnavailable as exc:
            # The details (host, port) go to the log only; this page is public.
            log.warning("readyz: %s", exc)
            return {"status": "unavailable", "reason": "the database cannot be reached"}
        return {"status": "ready"}

    def on_models(self, environ: dict[str, Any], user: str | None) -> Response:
        """The model picker's choices (every LLM machine's) and the one selected by default."""
        names = self.backends.model_names(first=self.settings.default_model)
        default = self.settings.default_model or (names[0] if names else None)
        return json_response(200, {"models": [{"name": n} for n in names], "default": default})

    def on_conversations(self, environ: dict[str, Any], user: str) -> Response:
        """The user's conversations, newest first; DELETE deletes them all."""
        if environ["REQUEST_METHOD"] == "DELETE":
            return json_response(200, {"deleted": self.store.delete_conversations(user)})
        return json_response(200, {"conversations": self.store.conversations(user)})

    def on_conversation(self, environ: dict[str, Any], user: str) -> Response:
        """One of the user's conversations with its turns; DELETE deletes it."""
        id = environ["PATH_INFO"].removeprefix(CONVERSATIONS_PREFIX)
        if not CONVERSATION_ID.fullmatch(id):
            raise conversation_not_found()
        if environ["REQUEST_METHOD"] == "DELETE":
            deleted = self.store.delete_conversation(user, id)
            if not deleted:
                raise conversation_not_found()
            return json_response(200, {"deleted": deleted})
        found = self.store.conversation(user, id)
        if found is None:
            raise conversation_not_found()
        return json_response(200, found)

    def open_conversation(self, user: str, question: Question) -> tuple[str, Messages, bool]:
        """The conversation a question goes into, the messages for the model, and whether the
        conversation is new. Reading or creating it first means a question is refused while
        the database is unavailable, rather than answered and then forgotten."""
        if question.conversation is None:
            conversation = secrets.token_urlsafe(16)
            title = conversation_title(question.text)
            self.store.create_conversation(user, conversation, title, self.clock())
            return conversation, chat_messages([], question.text), True
        history = None
        if CONVERSATION_ID.fullmatch(question.conversation):
            limit = self.settings.history_turns
            history = self.store.history(user, question.conversation, limit)
        if history is None:
            raise conversation_not_found()
        return question.conversation, chat_messages(history, question.text), False

    def ask_model(
        self, request: Callable[[], Any], user: str, conversation: str, created: bool
    ) -> Any:
        """Send the question; a conversation made for it goes again if the model refused it,
        as it has no turn (the page shows the error and may ask again)."""
        try:
            return request()
        except BackendError:
            if created:
                with suppress(DatabaseUnavailable):
                    self.store.delete_conversation(user, conversation)
            raise

    def keep_turn(self, user: str, turn: Turn) -> bool:
        """Write a turn, retrying for a few seconds while the database is unavailable (each
        retry writes the same row once at most); whether it was kept."""
        deadline = time.monotonic() + self.save_seconds
        delay = 0.1
        while True:
            try:
                saved = self.store.save_turn(user, turn, self.clock())
            except DatabaseUnavailable as exc:
                if time.monotonic() + delay > deadline:
                    log.error("ask %s: the turn was not kept: %s", turn.id, exc)
                    return False
                log.warning("ask %s: writing the turn failed, retrying: %s", turn.id, exc)
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            except Exception:
                log.exception("ask %s: the turn was not kept", turn.id)
                return False
            if not saved:
                log.warning("ask %s: the conversation was deleted during the answer", turn.id)
            return saved

    def on_ask(self, environ: dict[str, Any], user: str) -> Response:
        """Answer a question in a conversation, streamed as NDJSON events or as one object."""
        # From the moment the app received the request, so the session check counts too.
        started = environ.get(RECEIVED) or time.perf_counter()
        handoff = handoff_ms(environ)
        if media_type(environ) != "application/json":
            raise HTTPError(415, "unsupported_media_type", "Send the question as JSON.")
        body = read_body(environ, self.settings.max_body_bytes)
        question = parse_question(body, self.settings.max_question_chars)
        model = question.model or self.settings.default_model or self.first_model()
        conversation, messages, created = self.open_conversation(user, question)
        request_id = uuid.uuid4().hex
        checked = time.perf_counter()
        log.info(
            "ask %s model=%s stream=%s user=%s conversation=%s",
            request_id,
            model,
            question.stream,
            user,
            conversation,
        )
        answer = Answer(
            user=user,
            conversation=conversation,
            # The request id names the turn too: unique, and already in every log line.
            turn=request_id,
            question=question.text,
            model=model,
            mode="stream" if question.stream else "complete",
            node=self.settings.node_name,
            llm="",
            asked_at=self.clock(),
            started=started,
            save=self.keep_turn,
        )
        if question.stream:
            backend, upstream = self.ask_model(
                lambda: self.backends.open_stream(model, messages, request_id),
                user,
                conversation,
                created,
            )
            answered = time.perf_counter()
            answer.llm = backend.name
            meta: dict[str, Any] = {
                "type": "meta",
                **answer.provenance(),
                "upstream_headers_ms": milliseconds(answered - started),
            }
            events = answer_events(stream_chunks(upstream), meta, answer)
            return Response(
                200,
                AnswerStream(events, upstream, backend, answer),
                [
                    ("Content-Type", "application/x-ndjson"),
                    ("Cache-Control", "no-store"),
                    # Tells nginx-style proxies not to buffer; HAProxy and mod_wsgi stream anyway.
                    ("X-Accel-Buffering", "no"),
                    ("X-Request-Id", request_id),
                    server_timing(handoff, started, checked, answered, upstream.headers),
                ],
            )
        backend, (data, upstream_headers) = self.ask_model(
            lambda: self.backends.chat(model, messages, request_id), user, conversation, created
        )
        finished = time.perf_counter()
        app_timing = {
            "app": milliseconds(checked - started),
            "upstream": milliseconds(finished - checked),
        }
        log.info("ask %s ended: done", request_id)
        answer.llm = backend.name
        answer.parts.append(message_text(data))
        ollama = {k: data.get(k) for k in DONE_FIELDS}
        saved = answer.end("done", ollama=ollama)
        result = {
            **answer.provenance(),
            "question": question.text,
            "answer": "".join(answer.parts),
            "ollama": ollama,
            "app": {
                "total_ms": milliseconds(finished - started),
                **{f"{k}_ms": v for k, v in app_timing.items()},
            },
            "saved": saved,
        }
        timing = server_timing(handoff, started, checked, finished, upstream_headers)
        return json_response(200, result, [("X-Request-Id", request_id), timing])

    def first_model(self) -> str:
        """The picker's first model, for requests that name none when no default is configured."""
        names = self.backends.model_names()
        if not names:
            raise BackendError("model_not_found", 404, "The model server offers no models.")
        return names[0]


def create_app(
    settings: Settings, transport: httpx.BaseTransport | None = None, store: Store | None = None
) -> WebUI:
    """Build the WSGI callable; ``transport`` lets tests replace the network to every Ollama.

    A database whose schema this app does not know stops it here, with the reason. One that
    cannot be reached does not: the app starts, says so on each request, and checks the schema
    once the database answers.
    """
    store = store or Store.open(settings.database_url, settings.database_password)
    try:
        store.check_schema()
    except SchemaMismatch:
        raise
    except DatabaseUnavailable as exc:
        log.warning("%s; the schema is checked once the database answers", exc)
    return WebUI(settings, Backends.from_settings(settings, transport), store)
