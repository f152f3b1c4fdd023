"""The site as a browser meets it: HTTPS only, HSTS, an ACME certificate, both web machines."""

import math
import re
import ssl

import httpx
import pytest
from conftest import Site
from playwright.sync_api import Page, expect

HSTS = re.compile(r"max-age=(\d+)")
# The breakdown's parts (data-hop) that each tier's Server-Timing gives: HAProxy, the app, the
# gateway (its whole span less authentication).
TIER_HOPS = ("lb-queue", "lb-connect", "app-handoff", "app", "gateway-auth", "gateway-ollama")
# JS: {name: value in ms as the page keeps it} of every part of the breakdown.
HOP_VALUES = "(parts) => Object.fromEntries(parts.map((p) => [p.dataset.hop, p.dataset.ms]))"


def _request(site: Site, method: str, scheme: str, path: str) -> httpx.Response:
    """One request to the site by name, through the load balancer's address when given."""
    verify = ssl.create_default_context(cafile=site.ca_file) if site.ca_file else True
    host = site.address or site.hostname
    with httpx.Client(verify=verify, timeout=10) as client:
        return client.request(
            method,
            f"{scheme}://{host}{path}",
            headers={"Host": site.hostname},
            extensions={"sni_hostname": site.hostname},
        )


def test_http_redirects_to_https_with_hsts(site: Site):
    """Plain HTTP answers with a permanent redirect to HTTPS, itself carrying HSTS."""
    response = _request(site, "GET", "http", "/some/path?q=1")
    assert response.status_code in (301, 308)
    assert response.headers["location"] == f"https://{site.hostname}/some/path?q=1"
    assert int(HSTS.search(response.headers["strict-transport-security"]).group(1)) >= 15552000


@pytest.mark.parametrize("path", ["/healthz", "/login", "/no-such-page"])
def test_https_responses_carry_hsts(site: Site, path: str):
    """HSTS is on every HTTPS response, errors included."""
    response = _request(site, "GET", "https", path)
    assert "strict-transport-security" in response.headers


def test_requests_are_spread_over_every_web_machine(site: Site):
    """The load balancer sends requests to each web machine (bounded: 4 per machine)."""
    served_by = {
        _request(site, "GET", "https", "/healthz").headers["x-served-by"]
        for _ in range(4 * len(site.web_hosts))
    }
    assert served_by == set(site.web_hosts)


def test_certificate_issuer_is_the_acme_ca(page: Page, site: Site):
    """Chromium, trusting only the ACME CA (or the system's), accepts a certificate it issued."""
    response = page.goto(site.url)
    details = response.security_details()
    assert details["subjectName"] == site.hostname
    # Not the self-signed bootstrap certificate HAProxy starts with.
    assert details["issuer"] and details["issuer"] != details["subjectName"]


def test_ask_streams_answer_with_timings(logged_in: Page, real_model: str):
    """A question is shown, its answer grows in visible steps while streaming, timings appear."""
    page = logged_in
    expect(page.get_by_label("Model")).not_to_have_value("")
    page.get_by_label("Model").select_option(real_model)
    page.get_by_label("Question").fill("Why is the sky blue? Explain in a few sentences.")
    page.get_by_role("button", name="Submit").click()
    result = page.get_by_role("region", name="Result")
    expect(result.get_by_text("Why is the sky blue?")).to_be_visible()
    answer = page.get_by_label("Answer", exact=True)
    # Two intermediate states, each seen while the Stop button says the stream still runs.
    streaming = "!document.getElementById('stop').disabled"
    length = "document.getElementById('answer').textContent.length"
    page.wait_for_function(f"() => {length} > 0 && {streaming}", timeout=120_000)
    first = answer.text_content()
    page.wait_for_function(f"() => {length} > {len(first)} && {streaming}")
    second = answer.text_content()
    expect(page.get_by_role("status")).to_have_text(
        re.compile(r"Answer complete: \d+ tok"), timeout=120_000
    )
    final = answer.text_content()
    assert final.startswith(second) and second.startswith(first) and first != second != final
    timings = page.get_by_label("Timings")
    for term in ("Round trip", "First token", "Generation"):
        expect(timings.get_by_text(term, exact=True)).to_be_visible()
    expect(page.get_by_text(re.compile(r"web\d+"))).not_to_have_count(0)


def test_stream_answer_shows_each_tiers_hop_before_the_model(logged_in: Page):
    """A streamed answer's timings say where the time before the model went: in HAProxy, the
    app and the gateway, each part a duration."""
    page = logged_in
    page.get_by_label("Stream", exact=True).check()
    page.get_by_label("Question").fill("Say hello.")
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("status")).to_have_text(
        re.compile(r"Answer complete: \d+ tok"), timeout=120_000
    )
    split = page.get_by_label("Timings").get_by_test_id("hop-split")
    expect(split).to_be_visible()
    shown = split.locator("[data-hop]").evaluate_all(HOP_VALUES)
    for name in TIER_HOPS:
        assert name in shown, f"the breakdown before the model has no {name!r} part: {shown}"
        value = float(shown[name])
        assert math.isfinite(value) and value >= 0, f"{name!r} is {shown[name]!r} ms: {shown}"
