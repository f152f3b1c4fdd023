"""Hostile input against /api/ask, /login and /static: never a 500, and the service stays healthy.

Hypothesis runs with a fixed seed (derandomize) and a bounded number of examples, so a run is
repeatable and its length known; its example database is off, so nothing is written to the clone.
A 500 means an input reached code that did not expect it (a crash, an unhandled exception); every
hostile input must be refused with a 4xx, or answered normally.
"""

import dataclasses
import json
import os
import secrets

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webui.settings import Settings

DEFAULTS = {f.name: f.default for f in dataclasses.fields(Settings)}
# The app's default body limit; above it a server may close the connection instead of answering.
MAX_BODY_BYTES = DEFAULTS["max_body_bytes"]

FUZZ = settings(
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

JSON_LEAF = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50)
JSON_VALUE = st.recursive(
    JSON_LEAF,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)
CONTENT_TYPES = st.sampled_from(
    [
        None,
        "application/json",
        "application/json; charset=utf-16",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "application/xml",
        "application/json, text/html",
        "\u00e9/\u00e9",
        "a" * 4000,
    ]
)


@st.composite
def ask_bodies(draw: st.DrawFn) -> bytes:
    """Bodies for /api/ask: wrong field types, broken UTF-8, deep or huge JSON, plain junk."""
    kind = draw(st.sampled_from(["fields", "bytes", "deep", "huge", "question"]))
    if kind == "fields":
        fields = {
            "question": draw(JSON_VALUE),
            "model": draw(JSON_VALUE),
            "stream": draw(JSON_VALUE),
        }
        extra = draw(st.dictionaries(st.text(max_size=10), JSON_VALUE, max_size=3))
        return json.dumps({**extra, **fields}).encode()
    if kind == "bytes":
        return draw(st.binary(max_size=4096))
    if kind == "deep":
        depth = draw(st.integers(min_value=500, max_value=100_000))
        return b'{"question": ' + b"[" * depth + b"]" * depth + b"}"
    if kind == "huge":
        size = draw(st.integers(min_value=16_000, max_value=3_000_000))
        return json.dumps({"question": "x" * size, "stream": False}).encode()
    question = draw(st.text(min_size=1, max_size=200))
    broken = draw(st.binary(min_size=1, max_size=20).filter(lambda b: not _is_utf8(b)))
    return b'{"question": "' + question.encode("utf-8", "surrogatepass") + broken + b'"}'


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


HEADER_ABUSE = st.dictionaries(
    st.sampled_from(
        [
            "Origin",
            "Referer",
            "X-Forwarded-For",
            "X-Forwarded-Proto",
            "X-Forwarded-Host",
            "Accept",
            "Accept-Encoding",
            "Cookie",
            "X-Request-ID",
            "User-Agent",
        ]
    ),
    # Stripped: a client library refuses to send values with outer spaces (raw tests cover those).
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=6000).map(
        str.strip
    ),
    max_size=4,
)


def _assert_not_crashed(status: int, body: bytes, what: str) -> None:
    assert status != 500, f"500 for {what}: {body[:300]!r}"
    assert b"Traceback" not in body, f"a traceback leaked for {what}"


def _send(site, method: str, path: str, body: bytes, headers: dict[str, str]) -> None:
    """Send, read the answer's head and first bytes only: a real answer may stream for seconds.

    A server may refuse a body above its limit before reading it and close the connection while
    the client is still sending; for such bodies a closed connection is a refusal, not a crash.
    """
    # As bytes, so that non-ASCII values go out as sent (httpx only encodes str as ASCII).
    raw_headers = {name: value.encode("utf-8") for name, value in headers.items()}
    # Header names and sizes only: values include the session cookie, which must not reach logs.
    what = f"{method} {path} body {len(body)} B, headers " + ", ".join(
        f"{name}({len(value)})" for name, value in headers.items()
    )
    try:
        with site.stream(method, path, body, raw_headers) as response:
            first = next(response.iter_raw(), b"")
            _assert_not_crashed(response.status_code, first, what)
    except httpx.TransportError:
        if len(body) <= MAX_BODY_BYTES:
            raise


def _ask_headers(site, content_type: str | None = "application/json") -> dict[str, str]:
    """What the page sends: the session cookie, its own Origin and a JSON body."""
    headers = {"Origin": site.origin, "Cookie": site.cookie}
    if content_type is not None:
        headers["Content-Type"] = content_type
    return headers


@FUZZ
@given(body=ask_bodies())
def test_ask_survives_hostile_bodies(site, body: bytes) -> None:
    """A logged-in POST /api/ask with junk, deep, huge or mistyped JSON never gets a 500."""
    _send(site, "POST", "/api/ask", body, _ask_headers(site))


@pytest.mark.parametrize("depth", [1_000, 3_000, 7_000])
def test_ask_survives_deep_json(site, depth: int) -> None:
    """Nesting deeper than Python's recursion limit, yet under the body limit, is a 400."""
    body = b'{"question": ' + b"[" * depth + b"]" * depth + b"}"
    _send(site, "POST", "/api/ask", body, _ask_headers(site))


@FUZZ
@given(content_type=CONTENT_TYPES, abuse=HEADER_ABUSE, logged_in=st.booleans())
def test_ask_survives_hostile_headers(site, content_type, abuse, logged_in: bool) -> None:
    """Odd content types, origins, cookies and forwarded headers never give a 500."""
    headers = _ask_headers(site, content_type)
    if not logged_in:
        del headers["Cookie"]
    body = b'{"question": "Say hi.", "stream": true}'
    _send(site, "POST", "/api/ask", body, {**headers, **abuse})


@st.composite
def login_bodies(draw: st.DrawFn) -> bytes:
    """Forms with odd fields, broken UTF-8, thousands of fields, or no form at all."""
    kind = draw(st.sampled_from(["form", "bytes", "many", "huge"]))
    if kind == "form":
        pairs = draw(st.lists(st.tuples(st.text(max_size=30), st.text(max_size=300)), max_size=5))
        return "&".join(f"{k}={v}" for k, v in pairs).encode("utf-8", "surrogatepass")
    if kind == "bytes":
        return draw(st.binary(max_size=4096))
    if kind == "many":
        return b"&".join(b"username=a%d" % i for i in range(draw(st.integers(100, 20_000))))
    return b"username=" + b"A" * draw(st.integers(min_value=16_000, max_value=2_000_000))


@FUZZ
@given(body=login_bodies(), content_type=CONTENT_TYPES, abuse=HEADER_ABUSE)
def test_login_survives_hostile_forms(site, body, content_type, abuse) -> None:
    """POST /login with junk forms gets 4xx (401, 413, 415, 429 ...), never a 500."""
    headers = {"Origin": site.origin, **abuse}
    if content_type is not None:
        headers["Content-Type"] = content_type
    _send(site, "POST", "/login", body, headers)


STATIC_PATHS = st.one_of(
    st.sampled_from(
        [
            "/static/../../../../etc/passwd",
            "/static/..%2f..%2f..%2fetc%2fpasswd",
            "/static/%2e%2e/%2e%2e/etc/passwd",
            "/static/..\\..\\etc\\passwd",
            "/static/app.js%00.png",
            "/static//etc/passwd",
            "/static/.",
            "/static/",
            "/static/%ff%fe",
            "/static/" + "a" * 9000,
        ]
    ),
    st.text(
        alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="#?"),
        max_size=200,
    ).map(lambda s: "/static/" + s),
)


@FUZZ
@given(path=STATIC_PATHS, method=st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "TRACE"]))
def test_static_refuses_escapes(site, path: str, method: str) -> None:
    """Odd /static paths never give a 500 and never a file from outside the static folder."""
    request = f"{method} {path} HTTP/1.1\r\nHost: {site.host}\r\nConnection: close\r\n\r\n"
    status, received = site.raw(request.encode("latin-1", "replace"))
    _assert_not_crashed(status, received, f"{method} {path[:80]}")
    assert b"root:x:0:0" not in received, f"{path} served /etc/passwd"
    if ".." in path or "%2e" in path.lower() or "%2f" in path.lower():
        assert status in (0, 400, 403, 404, 405, 414), f"{path} gave {status}"


@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(
            b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Long: " + b"a" * 70_000 + b"\r\n\r\n",
            id="huge-header",
        ),
        pytest.param(
            b"GET / HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-%d: 1\r\n" % i for i in range(300))
            + b"\r\n",
            id="many-headers",
        ),
        pytest.param(
            b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            id="smuggling-cl-te",
        ),
        pytest.param(
            b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", id="negative-length"
        ),
        pytest.param(
            b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
            id="absurd-length",
        ),
        pytest.param(b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n", id="nul-in-path"),
        pytest.param(b"GE\xffT / HTTP/1.1\r\nHost: x\r\n\r\n", id="binary-method"),
    ],
)
def test_malformed_requests_are_refused(site, request_bytes: bytes) -> None:
    """Requests no client should send get a 4xx or a closed connection, never a 500."""
    request_bytes = request_bytes.replace(b"Host: x", b"Host: " + site.host.encode())
    status, received = site.raw(request_bytes, timeout=15)
    _assert_not_crashed(status, received, repr(request_bytes[:60]))
    assert status == 0 or 400 <= status < 500, f"{request_bytes[:40]!r} got {status}"


def _limits_refused(client, cookie: str, limits: dict[str, int]) -> dict[str, int]:
    """The status of a question one character too long, and of a body one byte too large.

    Both carry a stream field that is not a boolean: a machine that lets either through refuses
    it with a 400 for that field, so no question ever reaches a model.
    """
    question = {"question": "x" * (limits["max_question_chars"] + 1), "stream": "no"}
    body = json.dumps({"question": "Hi.", "stream": "no", "padding": ""})
    padding = "p" * (limits["max_body_bytes"] + 1 - len(body))
    large = json.dumps({"question": "Hi.", "stream": "no", "padding": padding}).encode()
    headers = {"Origin": client.origin, "Cookie": cookie, "Content-Type": "application/json"}
    statuses = {}
    for name, content in (("question", json.dumps(question).encode()), ("body", large)):
        response = client.request("POST", "/api/ask", content=content, headers=headers)
        statuses[name] = response.status_code
    return statuses


def test_each_machine_refuses_oversized_questions(site, request) -> None:
    """Every web machine answers 413 to a question over the length limit and to a body over the
    size limit the deployment means (the webapp role's, else the app's defaults)."""
    names = ("max_question_chars", "max_body_bytes")
    if os.environ.get("OLLAMA_QA_SECURITY_TARGET") == "local":
        statuses = {"local": _limits_refused(site, site.cookie, {n: DEFAULTS[n] for n in names})}
    else:
        topology = request.getfixturevalue("topology")
        intended_limit = request.getfixturevalue("intended_limit")
        limits = {name: intended_limit(topology, name) for name in names}
        statuses = {}
        for machine in topology.web:
            address = f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"
            with topology.app_client(machine, address) as client:
                statuses[machine.name] = _limits_refused(client, site.cookie, limits)
    loose = {name: found for name, found in statuses.items() if set(found.values()) != {413}}
    assert not loose, (
        f"not refused with 413 (question over {names[0]}, body over {names[1]}): {loose}; "
        "a 400 means the machine read it, so its limit is looser"
    )


def test_service_healthy_after_hostile_input(site) -> None:
    """After all of the above, the service still answers health checks and questions."""
    for _ in range(4):  # several, so that every web machine behind HAProxy is likely asked
        assert site.request("GET", "/healthz").status_code == 200
    answer = site.request(
        "POST",
        "/api/ask",
        logged_in=True,
        headers={"Origin": site.origin},
        json={"question": "Are you still there? Answer in one short sentence.", "stream": False},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["answer"]
