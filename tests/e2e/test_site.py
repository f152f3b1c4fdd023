"""The site as a browser meets it: HTTPS only, HSTS, an ACME certificate, both web machines."""

import re
import ssl

import httpx
import pytest
from conftest import Site
from playwright.sync_api import Page, expect

HSTS = re.compile(r"max-age=(\d+)")


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
    """Chromium accepts the certificate and names the ACME CA as its issuer."""
    response = page.goto(site.url)
    details = response.security_details()
    assert details["subjectName"] == site.hostname
    if site.ca_file:
        expected_issuer = "Pebble" if "pebble" in open(site.ca_file).read().lower() else ""
        assert expected_issuer in details["issuer"]


def test_ask_streams_answer_with_timings(logged_in: Page):
    """A question is shown, its answer grows in several visible steps, and timings appear."""
    page = logged_in
    # Record every distinct length the answer goes through, from the page's own DOM changes.
    page.evaluate(
        """() => {
          window.__answerLengths = [];
          const record = () => {
            const answer = document.querySelector('[data-testid="answer"]');
            const n = answer ? answer.textContent.length : 0;
            if (n && window.__answerLengths.at(-1) !== n) window.__answerLengths.push(n);
          };
          new MutationObserver(record).observe(document.body,
            {subtree: true, childList: true, characterData: true});
        }"""
    )
    page.get_by_label("Question").fill("Why is the sky blue?")
    page.get_by_role("button", name="Ask").click()
    expect(page.get_by_test_id("question")).to_have_text("Why is the sky blue?")
    expect(page.get_by_test_id("status")).to_contain_text("Done", timeout=60_000)
    assert len(page.evaluate("window.__answerLengths")) >= 3
    for timing in ("round-trip", "first-token", "generation", "tokens-per-second"):
        expect(page.get_by_test_id(f"timing-{timing}")).not_to_be_empty()
