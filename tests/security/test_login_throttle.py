"""Login brute force is throttled, and only the attacker is: the deployment's user still gets in.

The attempts go through ``site``, which for the topology is a tunnel ending on the load balancer's
loopback, so the throttle falls on that address and never on this controller's.
"""

import secrets

import httpx

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
