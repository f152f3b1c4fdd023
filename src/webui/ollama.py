"""The Ollama client: httpx with the gateway's credentials, and errors sorted into kinds.

Ollama sits behind an authenticating TLS gateway, so every failure has several possible causes
(network, gateway, queue, model). Users and operators both need to know which one happened, so
each failure becomes a :class:`BackendError` with a stable code and a sentence a person reads.
"""

import json
import ssl
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from webui.settings import Settings

# A conversation as Ollama's /api/chat takes it: {"role": "user" or "assistant", "content": text}.
Messages = list[dict[str, str]]

# Ollama's counts and durations (nanoseconds) in its final chunk.
METRICS = (
    "total_duration",
    "load_duration",
    "prompt_eval_count",
    "prompt_eval_duration",
    "eval_count",
    "eval_duration",
)
# Fields of Ollama's final chunk that the page shows.
DONE_FIELDS = (*METRICS, "done_reason")


class BackendError(Exception):
    """A classified failure of the model server, with the HTTP status the app answers with.

    ``machine_down`` says the LLM machine cannot answer anything right now: no connection could
    be made, or its gateway answered 502/503/504 itself (it cannot reach Ollama, or Ollama did not
    answer it in time). No answer has begun, so another machine may take the question.
    """

    def __init__(
        self,
        code: str,
        status: int,
        message: str,
        retry_after: str | None = None,
        *,
        machine_down: bool = False,
    ):
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message
        self.retry_after = retry_after
        self.machine_down = machine_down


def ollama_error(body: bytes) -> str | None:
    """The text of Ollama's own ``{"error": "..."}`` body; None when something else answered."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return data["error"]
    return None


def upstream_error_text(body: bytes) -> str:
    """Ollama's ``{"error": "..."}`` text, or a short excerpt of whatever else came back."""
    try:
        data = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace").strip()
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return data["error"]
    return ""


# The gateway marks the errors it makes itself (role llm_gateway, __llm_gateway_error_header):
# its JSON bodies look like Ollama's, and only the mark tells its "cannot reach Ollama" 503 from
# Ollama's own "queue full" 503.
GATEWAY_ERROR_HEADER = "x-llm-gateway-error"


def classify_status(status: int, body: bytes, headers: Mapping[str, str]) -> BackendError:
    """Turn a non-200 answer from the gateway or Ollama into a classified error."""
    detail = upstream_error_text(body)
    from_gateway = headers.get(GATEWAY_ERROR_HEADER, "").lower() == "true"
    if status in (401, 403):
        return BackendError(
            "backend_auth",
            502,
            f"The model gateway refused our credentials (HTTP {status}). "
            "An operator must fix the web app's gateway token.",
        )
    if status == 404:
        return BackendError("model_not_found", 404, f"The model was not found: {detail}")
    if status == 503 and (from_gateway or ollama_error(body) is None):
        # The gateway's own 503 (or a proxy page): it cannot reach Ollama on its machine at all.
        return BackendError(
            "backend_unreachable",
            503,
            "The model server is not running on its machine right now.",
            headers.get("retry-after") or "1",
            machine_down=True,
        )
    if status == 503:
        # Ollama's own 503 comes from a working machine whose queue is full.
        return BackendError(
            "backend_busy",
            503,
            "The model server is busy (its queue is full). Please try again in a moment.",
            headers.get("retry-after") or "1",
        )
    return BackendError(
        "backend_error",
        502,
        f"The model server failed (HTTP {status}): {detail or 'no detail'}",
        machine_down=status in (502, 504),
    )


def classify_transport(exc: httpx.TransportError) -> BackendError:
    """Turn a network-level failure into a classified error; a connect timeout is unreachable."""
    if isinstance(exc, httpx.ConnectTimeout | httpx.ConnectError):
        return BackendError(
            "backend_unreachable",
            502,
            "The model server cannot be reached right now.",
            machine_down=True,
        )
    if isinstance(exc, httpx.TimeoutException):
        return BackendError(
            "backend_timeout", 504, "The model server stopped answering (timed out)."
        )
    return BackendError("backend_unreachable", 502, "The connection to the model server was lost.")


def _ssl_context(ca_bundle: str) -> ssl.SSLContext:
    """Verification always on; a private CA (the gateway's) replaces the system store if given."""
    if ca_bundle:
        return ssl.create_default_context(cafile=ca_bundle)
    return ssl.create_default_context()


def _trace(request_id: str) -> dict[str, str]:
    """Send our request id along, so gateway and Ollama-side logs can be matched to ours."""
    return {"X-Request-ID": request_id} if request_id else {}


def _auth(settings: Settings) -> httpx.Auth | None:
    if settings.ollama_username:
        return httpx.BasicAuth(settings.ollama_username, settings.ollama_password)
    return None


class OllamaClient:
    """One shared connection pool to one Ollama (one LLM machine); safe from the server's threads.

    Every gateway takes the same credentials and is verified against the same CA bundle, so
    ``settings`` holds them once and ``base_url`` says which gateway this client talks to.
    """

    def __init__(
        self, base_url: str, settings: Settings, transport: httpx.BaseTransport | None = None
    ) -> None:
        headers = {"Accept": "application/json"}
        if settings.ollama_token:
            headers["Authorization"] = f"Bearer {settings.ollama_token}"
        self.base_url = base_url
        timeout = httpx.Timeout(
            connect=settings.connect_timeout,
            read=settings.read_timeout,
            write=settings.connect_timeout,
            pool=settings.connect_timeout,
        )
        self._http = httpx.Client(
            base_url=base_url,
            headers=headers,
            auth=_auth(settings),
            verify=_ssl_context(settings.ollama_ca_bundle),
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
            # No proxies or ~/.netrc from the environment: the gateway is reached directly, and
            # only with the credentials configured here.
            trust_env=False,
            # No pool limit: every server thread may hold one stream, and mod_wsgi's thread count
            # already bounds them; a smaller pool would make streams wait for a connection.
            # Idle connections stay open for a minute: a new one costs a TLS handshake and more
            # before the first token (measured: 5 ms), and questions come seconds apart. The
            # gateway keeps them longer (llm_gateway_keepalive_timeout), so the app never sends
            # on a connection the gateway is closing.
            limits=httpx.Limits(
                max_connections=None, max_keepalive_connections=20, keepalive_expiry=60
            ),
        )

    def __repr__(self) -> str:
        return f"OllamaClient({self.base_url!r})"

    def _request(
        self, method: str, path: str, body: Any = None, request_id: str = ""
    ) -> httpx.Response:
        """Send a request and read the whole answer, raising a classified error if it failed."""
        try:
            response = self._http.request(method, path, json=body, headers=_trace(request_id))
        except httpx.TransportError as exc:
            raise classify_transport(exc) from exc
        if response.status_code != 200:
            raise classify_status(response.status_code, response.content, response.headers)
        return response

    def version(self) -> str:
        """Ollama's version; answering it with our credentials is what "ready" means."""
        return str(self._request("GET", "/api/version").json().get("version", ""))

    def model_names(self) -> list[str]:
        """Names of the models Ollama offers, in its order."""
        models = self._request("GET", "/api/tags").json().get("models", [])
        return [m["name"] for m in models if isinstance(m, dict) and "name" in m]

    def chat(
        self, model: str, messages: Messages, request_id: str = ""
    ) -> tuple[dict[str, Any], httpx.Headers]:
        """A complete (non-streamed) answer to the last of ``messages``, with its headers."""
        body = {"model": model, "messages": messages, "stream": False}
        response = self._request("POST", "/api/chat", body, request_id)
        data = response.json()
        if "error" in data:
            raise BackendError("backend_error", 502, f"The model failed: {data['error']}")
        return data, response.headers

    def open_stream(self, model: str, messages: Messages, request_id: str = "") -> httpx.Response:
        """Start a streamed answer and return the open response once its status is known.

        The caller owns the response and must close it: closing is what tells Ollama to stop.
        """
        body = {"model": model, "messages": messages, "stream": True}
        request = self._http.build_request(
            "POST", "/api/chat", json=body, headers=_trace(request_id)
        )
        try:
            response = self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise classify_transport(exc) from exc
        if response.status_code != 200:
            try:
                content = response.read()
            except httpx.TransportError:
                content = b""
            finally:
                response.close()
            raise classify_status(response.status_code, content, response.headers)
        return response

    def close(self) -> None:
        """Close pooled connections."""
        self._http.close()


def message_text(chunk: dict[str, Any]) -> str:
    """The text an /api/chat chunk (or complete answer) carries in ``message.content``."""
    message = chunk.get("message")
    text = message.get("content") if isinstance(message, dict) else None
    return text if isinstance(text, str) else ""


def stream_chunks(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """Each NDJSON chunk as soon as its line is complete; network failures become BackendError."""
    try:
        for line in response.iter_lines():
            if not line.strip():
                continue
            try:
                chunk = json.loads(line)
            except ValueError:
                raise BackendError(
                    "backend_error", 502, "The model server sent a line that is not JSON."
                ) from None
            if isinstance(chunk, dict):
                yield chunk
    except httpx.TransportError as exc:
        raise classify_transport(exc) from exc
