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
from deploykit.probes.stream_client import server_timing as parse_server_timing

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


@pytest.fixture(scope="module")
def server_timing(site: Site) -> Iterator[dict[str, float]]:
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
        # Lines joined as a browser joins them.
        yield parse_server_timing(", ".join(lines))
        client.request(
            "DELETE",
            f"/api/conversations/{meta[0]['conversation']}",
            headers={"Origin": client.origin},
        )


def _duration(entries: dict[str, float], name: str) -> float:
    """The entry's dur in ms; fails naming the entry when it is missing or not a duration."""
    assert name in entries, f"Server-Timing has no {name!r} entry with a numeric dur: {entries}"
    value = entries[name]
    assert math.isfinite(value) and value >= 0, f"Server-Timing {name!r} has dur {value}"
    return value


@pytest.mark.parametrize("name", ENTRIES)
def test_answer_server_timing_has_entry(server_timing: dict[str, float], name: str):
    """Each tier's entry is in the answer's Server-Timing, its dur a non-negative number."""
    _duration(server_timing, name)


def test_answer_server_timing_spans_nest(server_timing: dict[str, float]):
    """Authentication is within the gateway's span, which is within the app's wait for it."""
    auth, gateway, app_gateway = (
        _duration(server_timing, name) for name in ("gateway-auth", "gateway", "app-gateway")
    )
    assert auth <= gateway, f"gateway-auth {auth} ms > gateway {gateway} ms: {server_timing}"
    assert gateway <= app_gateway + NESTING_TOLERANCE_MS, (
        f"gateway {gateway} ms > app-gateway {app_gateway} ms (+{NESTING_TOLERANCE_MS} ms for "
        f"rounding on two machines): {server_timing}"
    )
