"""Accounts on several web machines that share one database: a user the CLI adds on one machine
logs in whichever machine serves them, ending a session ends it on every machine at once, and
failed logins are counted across the machines.

Sessions are opened on each web machine directly, through an SSH tunnel past HAProxy, so every
check names the machine that answered it. Those requests carry an X-Forwarded-For address of
their own (a documentation prefix), as HAProxy would add one: the app counts failed logins by
address, and this keeps the count of each test to itself.
"""

import secrets
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from http.cookies import SimpleCookie

import httpx
import pytest

from deploykit.client import SESSION_COOKIE, SiteClient
from deploykit.topology import Topology

# Logins through HAProxy until every web machine has served one, at most this many per machine.
LOGINS_PER_MACHINE = 10
# Any API that needs a session; an ended one gets 401.
PROBE = "/api/conversations"


@dataclass(frozen=True)
class Account:
    name: str
    password: str


def _client_address() -> str:
    """An address in 2001:db8::/32 (documentation only), new for each test."""
    return f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"


def _login(client: SiteClient, name: str, password: str) -> httpx.Response:
    return client.request(
        "POST",
        "/login",
        data={"username": name, "password": password},
        headers={"Origin": client.origin},
    )


@pytest.fixture
def deployed(deployment) -> Topology:
    if deployment is None:
        pytest.skip("needs OLLAMA_QA_INVENTORY to run the users CLI on a web machine over SSH")
    return deployment


@pytest.fixture
def account(deployed: Topology) -> Iterator[Account]:
    """A user added with the CLI on the first web machine, removed again afterwards."""
    with deployed.temporary_user("e2e") as (name, password):
        yield Account(name, password)


@pytest.fixture
def on_each_machine(deployed: Topology) -> Iterator[list[SiteClient]]:
    """One client per web machine, each talking to its machine only, from one test address."""
    address = _client_address()
    with ExitStack() as stack:
        yield [stack.enter_context(deployed.app_client(m, address)) for m in deployed.web]


def _session_statuses(clients: list[SiteClient], cookies: list[str]) -> dict[tuple[int, str], int]:
    """{(session number, machine): status of PROBE with that session on that machine}."""
    return {
        (number, client.server_name): client.request(
            "GET", PROBE, headers={"Cookie": cookie}
        ).status_code
        for number, cookie in enumerate(cookies)
        for client in clients
    }


def test_user_added_on_one_machine_logs_in_on_every_machine(deployed: Topology, account: Account):
    """Through HAProxy, the CLI's new user logs in on whichever web machine serves the login."""
    expected = {machine.name for machine in deployed.web}
    served: set[str] = set()
    for _ in range(LOGINS_PER_MACHINE * len(expected)):
        # A new connection each time, as separate browsers would open.
        with deployed.client() as client:
            response = _login(client, account.name, account.password)
        assert response.status_code == 303, (response.status_code, response.text[:200])
        served.add(response.headers["X-Served-By"])
        if served == expected:
            break
    assert served == expected, f"logins were served by {served} only"


@pytest.fixture
def sessions(on_each_machine: list[SiteClient], account: Account) -> list[str]:
    """One session of the account opened on each web machine, each valid on every machine."""
    cookies = [client.login(account.name, account.password) for client in on_each_machine]
    statuses = _session_statuses(on_each_machine, cookies)
    assert set(statuses.values()) == {200}, statuses
    return cookies


def test_logout_ends_the_session_on_every_machine(on_each_machine, sessions):
    """A session logged out through another machine than its own is refused everywhere at once."""
    ending, other = on_each_machine[0], on_each_machine[-1]
    response = other.request(
        "POST", "/logout", headers={"Cookie": sessions[0], "Origin": other.origin}
    )
    assert response.status_code == 303
    statuses = _session_statuses(on_each_machine, sessions[:1])
    assert set(statuses.values()) == {401}, f"{ending.server_name}'s session: {statuses}"


def test_removing_the_user_ends_every_session_at_once(deployed, on_each_machine, account, sessions):
    """The CLI removing a user on one machine ends that user's sessions on every machine."""
    deployed.webui(deployed.web[-1], "users", "remove", account.name)
    statuses = _session_statuses(on_each_machine, sessions)
    assert set(statuses.values()) == {401}, statuses


def test_new_password_ends_every_session_at_once(deployed, on_each_machine, account, sessions):
    """A password changed with the CLI ends every session; only the new password logs in."""
    new_password = secrets.token_urlsafe(24)
    deployed.webui(
        deployed.web[-1], "users", "set-password", account.name, stdin=new_password + "\n"
    )
    statuses = _session_statuses(on_each_machine, sessions)
    assert set(statuses.values()) == {401}, statuses
    first = on_each_machine[0]
    assert _login(first, account.name, account.password).status_code == 401
    assert _login(first, account.name, new_password).status_code == 303


def test_session_cookie_is_locked_down_on_every_machine(
    deployed, on_each_machine, account, intended_limit
):
    """Each machine's session cookie is Secure, HttpOnly, SameSite=Strict, host-only, and lives
    no longer than the login lifetime the deployment means (the role's, else the app's)."""
    lifetime = intended_limit(deployed, "session_ttl_seconds")
    for client in on_each_machine:
        response = _login(client, account.name, account.password)
        assert response.status_code == 303, (client.server_name, response.status_code)
        morsel = SimpleCookie(response.headers["Set-Cookie"])[SESSION_COOKIE]
        flags = {
            "secure": bool(morsel["secure"]),
            "httponly": bool(morsel["httponly"]),
            "samesite": morsel["samesite"],
            "path": morsel["path"],
            "domain": morsel["domain"],
            "max-age": int(morsel["max-age"]),
        }
        expected = {
            "secure": True,
            "httponly": True,
            "samesite": "Strict",
            "path": "/",
            "domain": "",
            "max-age": lifetime,
        }
        assert flags == expected, (
            f"{client.server_name}: the session cookie has {flags}, want {expected} "
            "(max-age is the login lifetime, WEBUI_SESSION_TTL_SECONDS)"
        )


def test_failed_logins_are_throttled_by_their_total(deployed, on_each_machine):
    """Wrong passwords sent to the machines in turn are refused after the limit of all of them."""
    limit = deployed.app_setting(deployed.web[0], "login_max_failures")
    assert limit >= len(on_each_machine), "too low a limit to spread the attempts over machines"
    name = f"e2e-nobody-{secrets.token_hex(4)}"
    answers = []
    for attempt in range(limit + len(on_each_machine)):
        client = on_each_machine[attempt % len(on_each_machine)]
        response = _login(client, name, f"wrong-{attempt}")
        answers.append((client.server_name, response.status_code))
    assert [status for _, status in answers[:limit]] == [401] * limit, answers
    # The next attempt is refused on every machine, whichever saw the earlier failures.
    assert [status for _, status in answers[limit:]] == [429] * len(on_each_machine), answers


def test_one_user_never_reaches_another_users_conversation(deployed: Topology):
    """Whatever id a request names, another user's conversation is "not found" to it: reading,
    deleting or continuing it, and it stays whole for its owner."""
    with ExitStack() as stack:
        owner_name, owner_password = stack.enter_context(deployed.temporary_user("owner"))
        other_name, other_password = stack.enter_context(deployed.temporary_user("other"))
        owner = stack.enter_context(deployed.client())
        other = stack.enter_context(deployed.client())
        owner.login(owner_name, owner_password)
        other.login(other_name, other_password)
        json_post = {"Origin": deployed.origin}
        asked = owner.request(
            "POST", "/api/ask", json={"question": "Say hello.", "stream": False}, headers=json_post
        )
        assert asked.status_code == 200, asked.text
        conversation = asked.json()["conversation"]
        path = f"/api/conversations/{conversation}"

        tries = {
            "read": other.request("GET", path),
            "delete": other.request("DELETE", path, headers=json_post),
            "continue": other.request(
                "POST",
                "/api/ask",
                json={"question": "And then?", "stream": False, "conversation": conversation},
                headers=json_post,
            ),
        }
        refused = {name: (r.status_code, r.json()["error"]["code"]) for name, r in tries.items()}
        assert refused == dict.fromkeys(tries, (404, "conversation_not_found"))
        listed = other.request("GET", "/api/conversations").json()["conversations"]
        assert conversation not in [c["id"] for c in listed]

        kept = owner.request("GET", path)
        assert kept.status_code == 200, kept.text
        assert [t["question"] for t in kept.json()["turns"]] == ["Say hello."]
