"""Forced renewal through certbot and the ACME server: new certificate served, nothing dropped.

certbot renews by HTTP-01 through HAProxy itself (the challenge path is routed to certbot), its
deploy hook installs the new PEM and reloads HAProxy gracefully. Every request of the loop opens
a new TLS connection, so each one sees the certificate being served at that moment.
"""

import shlex
import socket
import ssl
import threading
import time

import pytest

LOOP_LIMIT_S = 120


def _get_healthz(topology, context: ssl.SSLContext) -> tuple[int, str]:
    """One request on a new verified TLS connection: (status, certificate serial)."""
    with (
        socket.create_connection((topology.lb.ansible_host, 443), timeout=10) as plain,
        context.wrap_socket(plain, server_hostname=topology.hostname) as tls,
    ):
        serial = tls.getpeercert()["serialNumber"]
        tls.sendall(
            f"GET /healthz HTTP/1.1\r\nHost: {topology.hostname}\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        status = int(tls.recv(65536).split(b" ", 2)[1])
    return status, serial


def _renew_command(topology) -> str:
    # The role names the lineage after the first domain, which group_vars make the public name.
    name = topology.hostvars[topology.lb.name].get("certbot_cert_name", topology.hostname)
    bundle = topology.var(topology.lb, "certbot_acme_ca_bundle_path")
    # certbot's ACME connection trusts the ACME server's CA only when the role installed one
    # (Pebble locally); --no-random-sleep-on-renew: renew is not a timer run here.
    return (
        f"if [ -f {bundle} ]; then export REQUESTS_CA_BUNDLE={bundle}; fi; "
        f"certbot renew --force-renewal --no-random-sleep-on-renew --cert-name {shlex.quote(name)}"
    )


@pytest.mark.timeout(300)
def test_forced_renewal_is_served_without_a_drop(topology) -> None:
    """During the renewal every request succeeds, and the served serial changes."""
    context = topology.ssl_context()
    before = _get_healthz(topology, context)[1]
    outcome: dict[str, object] = {}

    def renew() -> None:
        outcome["done"] = topology.run(
            topology.lb, _renew_command(topology), timeout=240, check=False
        )

    renewal = threading.Thread(target=renew)
    renewal.start()
    seen, failures, started = [], [], time.monotonic()
    while time.monotonic() - started < LOOP_LIMIT_S:
        try:
            status, serial = _get_healthz(topology, context)
            seen.append(serial)
            if status != 200:
                failures.append(f"HTTP {status}")
        except (OSError, ssl.SSLError) as error:
            failures.append(repr(error))
        if not renewal.is_alive() and seen and seen[-1] != before and len(seen) > 10:
            break
        time.sleep(0.1)
    renewal.join(240)
    done = outcome["done"]
    assert done.returncode == 0, f"certbot renew failed: {done.stderr[-1500:]}"
    assert seen and seen[-1] != before, f"still serving serial {before} after the renewal"
    assert not failures, (
        f"{len(failures)} of {len(seen) + len(failures)} requests failed: {failures[:5]}"
    )
