"""Each answer's Server-Timing as a client gets it from HAProxy over TLS: every tier's
entries are there, each a duration, and the spans that nest in time nest in their durations."""

import json
import math
import ssl
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from conftest import Site

from deploykit.client import SiteClient

# The contract's entries: HAProxy's, then the app's, then the gateway's.
ENTRIES = (
    "lb-queue",
    "lb-connect",
    "app-handoff",
    "app",
    "app-gateway",
    "gateway-auth",
    "gateway",
)
# app-gateway and gateway are measured on different machines and rounded by each.
NESTING_TOLERANCE_MS = 1.0
ANSWERED_WITHIN_S = 120


def _entries(header_lines: list[str]) -> dict[str, str | None]:
    """{name: its dur as sent, or None} of Server-Timing lines joined as a browser joins them."""
    entries: dict[str, str | None] = {}
    for entry in filter(None, (e.strip() for e in ", ".join(header_lines).split(","))):
        name, *params = (p.strip() for p in entry.split(";"))
        durations = [value for key, _, value in (p.partition("=") for p in params) if key == "dur"]
        entries.setdefault(name, durations[0] if durations else None)
    return entries


@pytest.fixture(scope="module")
def server_timing(site: Site) -> Iterator[dict[str, str | None]]:
    """The Server-Timing entries of one streamed answer, asked through HAProxy by a logged-in
    client that trusts the same CA as the browser; its conversation is deleted afterwards."""
    url = urlsplit(site.url)
    with SiteClient(
        site.address or site.hostname,
        url.port or 443,
        host=url.netloc,
        origin=f"https://{url.netloc}",
        context=ssl.create_default_context(cafile=site.ca_file),
        username=site.username,
        password=site.password,
    ) as client:
        client.login()
        with client.stream(
            "POST",
            "/api/ask",
            json={"question": "Say hello.", "stream": True},
            headers={"Origin": client.origin},
            timeout=ANSWERED_WITHIN_S,
        ) as response:
            assert response.status_code == 200, (response.status_code, response.read()[:200])
            lines = response.headers.get_list("Server-Timing")
            events = [json.loads(line) for line in response.iter_lines() if line.strip()]
        meta = [e for e in events if e["type"] == "meta"]
        assert meta, f"the answer names no conversation to delete afterwards: {events[:3]}"
        yield _entries(lines)
        client.request(
            "DELETE",
            f"/api/conversations/{meta[0]['conversation']}",
            headers={"Origin": client.origin},
        )


def _duration(entries: dict[str, str | None], name: str) -> float:
    """The entry's dur in ms; fails naming the entry when it is missing or not a duration."""
    assert name in entries, f"Server-Timing has no {name!r} entry: {entries}"
    text = entries[name]
    try:
        value = float(text or "")
    except ValueError:
        pytest.fail(f"Server-Timing {name!r} has dur {text!r}, not a number: {entries}")
    assert math.isfinite(value) and value >= 0, f"Server-Timing {name!r} has dur {text!r}"
    return value


@pytest.mark.parametrize("name", ENTRIES)
def test_answer_server_timing_has_entry(server_timing: dict[str, str | None], name: str):
    """Each tier's entry is in the answer's Server-Timing, its dur a non-negative number."""
    _duration(server_timing, name)


def test_answer_server_timing_spans_nest(server_timing: dict[str, str | None]):
    """Authentication is within the gateway's span, which is within the app's wait for it."""
    auth, gateway, app_gateway = (
        _duration(server_timing, name) for name in ("gateway-auth", "gateway", "app-gateway")
    )
    assert auth <= gateway, f"gateway-auth {auth} ms > gateway {gateway} ms: {server_timing}"
    assert gateway <= app_gateway + NESTING_TOLERANCE_MS, (
        f"gateway {gateway} ms > app-gateway {app_gateway} ms (+{NESTING_TOLERANCE_MS} ms for "
        f"rounding on two machines): {server_timing}"
    )
