"""Login brute force is throttled, and only the attacker is: the deployment's user still gets in.

The attempts go through ``site``, which for the topology is a tunnel ending on the load balancer's
loopback, so the throttle falls on that address and never on this controller's. Each web machine
is also asked past HAProxy, from an address of its own, so a limit loosened on one machine shows.
"""

import os
import secrets
import time

import httpx
import pytest

MAX_ATTEMPTS = 40  # far above the limit, which counts failures across every web machine


def test_brute_force_is_throttled(site) -> None:
    """Repeated wrong passwords get 429 with Retry-After, never a session."""
    username = f"bruteforce-{secrets.token_hex(4)}"
    statuses = []
    for attempt in range(MAX_ATTEMPTS):
        response = site.request(
            "POST",
            "/login",
            headers={"Origin": site.origin},
            data={"username": username, "password": f"guess-{attempt}"},
        )
        statuses.append(response.status_code)
        assert response.status_code in (401, 429), f"attempt {attempt}: {response.status_code}"
        if response.status_code == 429:
            assert int(response.headers["Retry-After"]) > 0
            assert "Too many" in response.text
            break
    assert statuses[-1] == 429, f"no throttling after {len(statuses)} attempts: {statuses}"


def test_throttle_spares_other_clients(topology) -> None:
    """After the brute force, the real user logs in from this controller at once."""
    with topology.client() as client:
        try:
            cookie = client.login()
        except httpx.HTTPError as error:
            raise AssertionError(f"login failed after a brute force elsewhere: {error}") from None
    assert cookie.startswith("__Host-webui_session=")


def test_each_machine_refuses_after_the_limit_for_the_window(request) -> None:
    """On every web machine, the failure after the limit gets 429, and Retry-After covers what
    is left of the window: no machine counts more failures or forgets them sooner."""
    if os.environ.get("OLLAMA_QA_SECURITY_TARGET") == "local":
        # One app, no web machines: test_brute_force_is_throttled covers its throttle, and the
        # unit tests its limit and window.
        pytest.skip("OLLAMA_QA_SECURITY_TARGET=local serves one app, with no web machines to ask")
    topology = request.getfixturevalue("topology")
    intended_limit = request.getfixturevalue("intended_limit")
    limit = intended_limit(topology, "login_max_failures")
    window = intended_limit(topology, "login_window_seconds")
    for machine in topology.web:
        # A documentation address and a user of this machine's own: no earlier failure counts.
        address = f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"
        username = f"throttle-{secrets.token_hex(4)}"
        with topology.app_client(machine, address) as client:
            started = time.monotonic()
            for attempt in range(1, limit + 2):
                response = client.request(
                    "POST",
                    "/login",
                    headers={"Origin": client.origin},
                    data={"username": username, "password": f"guess-{attempt}"},
                )
                if attempt <= limit:
                    assert response.status_code == 401, (
                        f"{machine.name}: wrong password {attempt} of {limit} got "
                        f"{response.status_code}, want 401"
                    )
            assert response.status_code == 429, (
                f"{machine.name}: wrong password {limit + 1} got {response.status_code}, want 429: "
                f"login throttling allows more than {limit} failures (WEBUI_LOGIN_MAX_FAILURES)"
            )
            retry_after = int(response.headers["Retry-After"])
            # The failures started `elapsed` seconds ago; they count for the rest of the window.
            elapsed = time.monotonic() - started
            assert retry_after >= window - elapsed - 1, (
                f"{machine.name}: Retry-After is {retry_after} s, {elapsed:.0f} s after the first "
                f"failure: failures count for less than {window} s (WEBUI_LOGIN_WINDOW_SECONDS)"
            )
