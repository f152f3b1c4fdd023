"""The Ollama client: httpx with the gateway's credentials, and errors sorted into kinds.

Ollama sits behind an authenticating TLS gateway, so every failure has several possible causes
(network, gateway, queue, model). Users and operators both need to know which one happened, so
each failure becomes a :class:`BackendError` with a stable code and a sentence a person reads.
"""

import json
import ssl
from collections.abc import Iterator
from typing import Any

import httpx

from webui.settings import Settings

# Fields of Ollama's final chunk that the page shows; durations are nanoseconds.
DONE_FIELDS = (
    "total_duration",
    "load_duration",
    "prompt_eval_count",
    "prompt_eval_duration",
    "eval_count",
    "eval_duration",
    "done_reason",
)


class BackendError(Exception):
    """A classified failure of the model server, with the HTTP status the app answers with."""

    def __init__(self, code: str, status: int, message: str, retry_after: str | None = None):
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message
        self.retry_after = retry_after


def upstream_error_text(body: bytes) -> str:
    """Ollama's ``{"error": "..."}`` text, or a short excerpt of whatever else came back."""
    try:
        data = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace").strip()
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return data["error"]
    return ""


def classify_status(status: int, body: bytes, retry_after: str | None = None) -> BackendError:
    """Turn a non-200 answer from the gateway or Ollama into a classified error."""
    detail = upstream_error_text(body)
    if status in (401, 403):
        return BackendError(
            "backend_auth",
            502,
            f"The model gateway refused our credentials (HTTP {status}). "
            "An operator must fix the web app's gateway token.",
        )
    if status == 404:
        return BackendError("model_not_found", 404, f"The model was not found: {detail}")
    if status == 503:
        return BackendError(
            "backend_busy",
            503,
            "The model server is busy (its queue is full). Please try again in a moment.",
            retry_after or "1",
        )
    return BackendError(
        "backend_error", 502, f"The model server failed (HTTP {status}): {detail or 'no detail'}"
    )


def classify_transport(exc: httpx.TransportError) -> BackendError:
    """Turn a network-level failure into a classified error; a connect timeout is unreachable."""
    if isinstance(exc, httpx.ConnectTimeout | httpx.ConnectError):
        return BackendError(
            "backend_unreachable", 502, "The model server cannot be reached right now."
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
    """One shared connection pool to Ollama; safe to use from the server's threads."""

    def __init__(self, settings: Settings, transport: httpx.BaseTransport | None = None) -> None:
        headers = {"Accept": "application/json"}
        if settings.ollama_token:
            headers["Authorization"] = f"Bearer {settings.ollama_token}"
        self.base_url = settings.ollama_url
        timeout = httpx.Timeout(
            connect=settings.connect_timeout,
            read=settings.read_timeout,
            write=settings.connect_timeout,
            pool=settings.connect_timeout,
        )
        self._http = httpx.Client(
            base_url=settings.ollama_url,
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
            raise classify_status(
                response.status_code, response.content, response.headers.get("retry-after")
            )
        return response

    def version(self) -> str:
        """Ollama's version; answering it with our credentials is what "ready" means."""
        return str(self._request("GET", "/api/version").json().get("version", ""))

    def model_names(self) -> list[str]:
        """Names of the models Ollama offers, in its order."""
        models = self._request("GET", "/api/tags").json().get("models", [])
        return [m["name"] for m in models if isinstance(m, dict) and "name" in m]

    def generate(self, model: str, prompt: str, request_id: str = "") -> dict[str, Any]:
        """A complete (non-streamed) answer."""
        body = {"model": model, "prompt": prompt, "stream": False}
        data = self._request("POST", "/api/generate", body, request_id).json()
        if "error" in data:
            raise BackendError("backend_error", 502, f"The model failed: {data['error']}")
        return data

    def open_stream(self, model: str, prompt: str, request_id: str = "") -> httpx.Response:
        """Start a streamed answer and return the open response once its status is known.

        The caller owns the response and must close it: closing is what tells Ollama to stop.
        """
        body = {"model": model, "prompt": prompt, "stream": True}
        request = self._http.build_request(
            "POST", "/api/generate", json=body, headers=_trace(request_id)
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
            raise classify_status(
                response.status_code, content, response.headers.get("retry-after")
            )
        return response

    def close(self) -> None:
        """Close pooled connections."""
        self._http.close()


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
