"""Several LLM machines behind one app: which models each serves, and which one answers.

Each LLM machine has its own gateway and its own models. The app learns a machine's models from
its ``/api/tags`` (kept for a few seconds), sends a question to a machine that serves its model,
the least busy first, and moves the question to the next such machine when the chosen one cannot
take it. So one machine going down costs no question that another machine can answer.
"""

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple, TypeVar
from urllib.parse import urlsplit

import httpx

from webui.ollama import BackendError, Messages, OllamaClient
from webui.settings import DEFAULT_PORTS, Settings

log = logging.getLogger("webui.backends")

T = TypeVar("T")
Clock = Callable[[], float]


def canonical_model(name: str) -> str:
    """The name Ollama resolves a model name to: ``llama3.2`` is ``llama3.2:latest``."""
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def machine_names(urls: Sequence[str]) -> list[str]:
    """How pages, logs and /readyz name each machine: its host, with the port where hosts repeat.

    Built from host and port only, so no part of a URL other than where the machine is shows.
    """
    parts = [urlsplit(url) for url in urls]
    hosts = [p.hostname or "" for p in parts]
    return [
        host if hosts.count(host) == 1 else f"{host}:{p.port or DEFAULT_PORTS[p.scheme]}"
        for host, p in zip(hosts, parts, strict=True)
    ]


def worth_another_machine(error: BackendError, unlisted: bool) -> bool:
    """Whether a failure before any answer came back should send the question elsewhere.

    A machine that is down (no connection, or its gateway cannot reach Ollama) never saw the
    question. Ollama's own "server busy" 503 (its queue is full) is sent elsewhere too: that
    machine refused the question without working on it, and an answer from another machine is
    what the user wants, rather than an error asking them to retry. The busy machine is not held
    out, as it takes questions again as soon as one of its answers ends. A machine that never
    listed its models (``unlisted``) was tried on a guess, so its "no such model" sends the
    question on to the machines that may serve it. Every other failure (credentials, a model no
    machine has, a read timeout while Ollama may be working on the question) would fail the same
    way elsewhere or might run the question twice, so it is the answer.
    """
    if unlisted and error.code == "model_not_found":
        return True
    return error.machine_down or error.code == "backend_busy"


class Listing(NamedTuple):
    """What a machine said the last time it was asked for its models; replaced, never changed."""

    names: tuple[str, ...] | None  # from its last answer; None until it first answered
    keys: frozenset[str]  # the names as canonical_model() gives them, for lookups
    error: BackendError | None  # why the last asking failed; None when it answered


class Backend:
    """One LLM machine: its client, the models it serves, its questions in flight from this
    process, and the time until which it is left out after its connection failed."""

    def __init__(
        self,
        name: str,
        client: OllamaClient,
        models_ttl: float,
        hold_seconds: float,
        clock: Clock = time.monotonic,
    ) -> None:
        self.name = name
        self.client = client
        self._models_ttl = models_ttl
        self._hold_seconds = hold_seconds
        self._clock = clock
        self._lock = threading.Lock()  # guards in_flight and the hold
        self._asking = threading.Lock()  # held by the one thread that asks /api/tags
        self.in_flight = 0
        self._held_until = float("-inf")
        self._listing_expires: float | None = None  # None: never asked
        self.listing = Listing(None, frozenset(), None)
        # Called once a question on this machine has ended (Backends refreshes old lists then).
        self.on_finish: Callable[[], None] | None = None

    def __repr__(self) -> str:
        return f"Backend({self.name!r}, in_flight={self.in_flight})"

    def held_out(self, now: float) -> bool:
        """Whether the machine's connection failed less than the hold time ago."""
        return now < self._held_until

    def start(self) -> None:
        """Count a question sent to this machine, so the next one prefers a less busy machine."""
        with self._lock:
            self.in_flight += 1

    def finish(self) -> None:
        """Count a question as ended (answered, failed or cancelled)."""
        with self._lock:
            self.in_flight -= 1
        if self.on_finish is not None:
            self.on_finish()

    def call(self, request: Callable[[OllamaClient], T]) -> T:
        """One request to this machine: a failure of the machine holds it out, success clears it."""
        try:
            result = request(self.client)
        except BackendError as exc:
            if exc.machine_down:
                with self._lock:
                    self._held_until = self._clock() + self._hold_seconds
                log.warning(
                    "LLM machine %s left out for %g s: %s", self.name, self._hold_seconds, exc
                )
            raise
        with self._lock:
            self._held_until = float("-inf")
        return result

    def listing_due(self, now: float) -> bool:
        """Whether the model list is older than the cache time (or was never asked for)."""
        if self._listing_expires is None:
            return True
        # A held-out machine is not asked before its hold ends: that would cost every refresh a
        # connection timeout.
        return now >= self._listing_expires and not self.held_out(now)

    @property
    def never_asked(self) -> bool:
        """Whether there is no list yet to go on with."""
        return self._listing_expires is None

    def refresh_in_background(self) -> None:
        """Ask for the models on a thread of its own, unless one is asking already."""
        if not self._asking.locked():
            name = f"models-{self.name}"
            threading.Thread(target=self.refresh_listing, name=name, daemon=True).start()

    def refresh_listing(self) -> None:
        """Ask the machine for its models when the list is older than the cache time.

        One thread asks while the others go on with the list there is; only a machine never asked
        makes them wait, as there is nothing to go on. A failure keeps the last list, so questions
        for its models still reach the machine once it is back, and records the failure.
        """
        if not self.listing_due(self._clock()):
            return
        if not self._asking.acquire(blocking=self._listing_expires is None):
            return
        try:
            if not self.listing_due(self._clock()):
                return  # another thread asked while this one waited
            try:
                names = tuple(self.call(lambda client: client.model_names()))
            except BackendError as exc:
                self.listing = self.listing._replace(error=exc)
            else:
                self.listing = Listing(names, frozenset(map(canonical_model, names)), None)
            self._listing_expires = self._clock() + self._models_ttl
        finally:
            self._asking.release()

    def state(self) -> dict[str, Any]:
        """This machine for /readyz, asked now: its name and load, and its version or failure."""
        state: dict[str, Any] = {
            "name": self.name,
            "in_flight": self.in_flight,
            "held_out": self.held_out(self._clock()),
            "models": list(self.listing.names or []),
        }
        try:
            version = self.call(lambda client: client.version())
        except BackendError as exc:
            return {
                **state,
                "status": "unready",
                "reason": {"code": exc.code, "message": exc.message},
            }
        return {**state, "status": "ready", "ollama_version": version}


def on_each(backends: Sequence[Backend], action: Callable[[Backend], T]) -> list[T]:
    """``action`` on every machine at the same time, results in order: a machine that takes its
    connection timeout to fail then delays the others by nothing."""
    if len(backends) <= 1:
        return [action(backend) for backend in backends]
    with ThreadPoolExecutor(max_workers=len(backends), thread_name_prefix="llm") as pool:
        return list(pool.map(action, backends))


class Backends:
    """Every LLM machine of the app: the models they serve together, and who answers a question.

    Among the machines serving a question's model, the one with the fewest questions in flight
    from this process goes first, ties taken in turn so that equal machines share the load;
    machines held out go last, tried only when every other one failed.
    """

    def __init__(self, backends: Sequence[Backend], clock: Clock = time.monotonic) -> None:
        if not backends:
            raise ValueError("at least one LLM machine is needed")
        self.backends = list(backends)
        self._clock = clock
        self._lock = threading.Lock()
        self._turn = 0
        for backend in self.backends:
            backend.on_finish = self.refresh

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        transport: httpx.BaseTransport | None = None,
        clock: Clock = time.monotonic,
    ) -> "Backends":
        """One machine per URL of ``WEBUI_OLLAMA_URL``; ``transport`` lets tests fake them all."""
        urls = settings.ollama_urls
        return cls(
            [
                Backend(
                    name,
                    OllamaClient(url, settings, transport),
                    settings.models_cache_seconds,
                    settings.backend_hold_seconds,
                    clock,
                )
                for name, url in zip(machine_names(urls), urls, strict=True)
            ],
            clock,
        )

    def refresh(self, old_lists: bool = True) -> None:
        """Bring every machine's model list up to date where its cache time has passed: at once
        where there is no list yet, in the background where an older one can serve meanwhile.

        ``old_lists=False`` leaves the older lists alone. A question does that: it goes on with
        them, and they are asked for once it has ended (``on_finish``). Asking in the background
        as it starts competed with it for the connections and the interpreter, and added 6 ms to
        its time to first token (measured at one stream with questions 8 s apart).
        """
        now = self._clock()
        due = [b for b in self.backends if b.listing_due(now)]
        on_each([b for b in due if b.never_asked], Backend.refresh_listing)
        if old_lists:
            for backend in due:
                if not backend.never_asked:
                    backend.refresh_in_background()

    def model_names(self, first: str = "") -> list[str]:
        """The models the machines serve together, each once, in the machines' order, with
        ``first`` (the default model) at the front if some machine serves it.

        Machines whose last answer failed are left out; only when none answered does this fail,
        with the first machine's failure.
        """
        self.refresh()
        listings = [backend.listing for backend in self.backends]
        answered = [lst for lst in listings if lst.error is None and lst.names is not None]
        if not answered:
            raise next(lst.error for lst in listings if lst.error is not None)
        names: dict[str, str] = {}
        for listing in answered:
            for name in listing.names or ():
                names.setdefault(canonical_model(name), name)
        ordered = list(names.values())
        preferred = names.get(canonical_model(first)) if first else None
        if preferred is not None:
            ordered.remove(preferred)
            ordered.insert(0, preferred)
        return ordered

    def serving(self, model: str) -> list[Backend]:
        """The machines to try for ``model``, best first; fails when no machine serves it.

        A machine that never said which models it serves (its gateway failed each time it was
        asked) comes after those that did, but is tried: it may serve the model, and its own
        failure is a truer answer than "no such model".
        """
        self.refresh(old_lists=False)
        key = canonical_model(model)
        candidates = [b for b in self.backends if key in b.listing.keys or b.listing.names is None]
        if not candidates:
            raise BackendError(
                "model_not_found", 404, f'The model was not found: no LLM machine serves "{model}".'
            )
        now = self._clock()
        with self._lock:
            turn = self._turn
            self._turn += 1
        count = len(self.backends)

        def rank(backend: Backend) -> tuple[bool, bool, int, int]:
            return (
                backend.held_out(now),
                backend.listing.names is None,
                backend.in_flight,
                (self.backends.index(backend) - turn) % count,
            )

        return sorted(candidates, key=rank)

    def _attempt(
        self, model: str, request_id: str, request: Callable[[OllamaClient], T]
    ) -> tuple[Backend, T]:
        """``request`` on the best machine serving ``model``, then on the next while a failure
        says another machine may answer. The machine that answered is returned with the question
        counted in flight: the caller calls its ``finish()`` once the answer has ended.
        """
        failures: list[BackendError] = []
        for backend in self.serving(model):
            unlisted = backend.listing.names is None
            backend.start()
            try:
                result = backend.call(request)
            except BaseException as exc:
                backend.finish()
                if not (isinstance(exc, BackendError) and worth_another_machine(exc, unlisted)):
                    raise
                log.warning(
                    "ask %s: %s on %s failed (%s); trying the next machine",
                    request_id,
                    model,
                    backend.name,
                    exc.code,
                )
                failures.append(exc)
                continue
            return backend, result
        # serving() gave at least one machine, and each one that did not answer left a failure.
        # "Busy" asks the user to try again soon, which is truer than "unreachable" if any was.
        raise min(failures, key=lambda failure: failure.code != "backend_busy")

    def chat(
        self, model: str, messages: Messages, request_id: str = ""
    ) -> tuple[Backend, tuple[dict[str, Any], httpx.Headers]]:
        """A complete answer with its headers, and the machine that gave it."""
        backend, data = self._attempt(
            model, request_id, lambda c: c.chat(model, messages, request_id)
        )
        backend.finish()
        return backend, data

    def open_stream(
        self, model: str, messages: Messages, request_id: str = ""
    ) -> tuple[Backend, httpx.Response]:
        """Start a streamed answer on a machine and return it with the open response.

        The question moves to another machine only before this returns, so never once a token
        was sent. The caller closes the response (that stops Ollama) and then calls the
        machine's ``finish()``.
        """
        return self._attempt(
            model, request_id, lambda c: c.open_stream(model, messages, request_id)
        )

    def states(self) -> list[dict[str, Any]]:
        """Every machine's state for /readyz, each asked now."""
        return on_each(self.backends, Backend.state)
