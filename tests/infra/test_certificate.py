"""The public certificate: issued by the configured ACME CA, for the site's name, not expiring."""

import datetime
import os
import socket
import ssl

from conftest import inventory, var

MIN_VALIDITY = datetime.timedelta(days=14)


def _served_certificate() -> dict:
    lb = inventory().hosts("lb")[0]
    name = var(lb, "public_hostname")
    # Local deployments trust the local ACME server's root; cloud ones the system's store.
    context = ssl.create_default_context(cafile=os.environ.get("OLLAMA_QA_CA_FILE") or None)
    with (
        socket.create_connection(
            (inventory().hostvars(lb)["ansible_host"], var(lb, "haproxy_https_port")), timeout=10
        ) as raw,
        context.wrap_socket(raw, server_hostname=name) as tls,
    ):
        return tls.getpeercert()


def test_certificate_chains_to_acme_ca_and_matches_name():
    """The TLS handshake verifies against the ACME CA with hostname checking on."""
    assert _served_certificate()["subject"]


def test_certificate_is_not_expiring():
    """The certificate has at least two weeks left, so renewal is working or has time to."""
    not_after = ssl.cert_time_to_seconds(_served_certificate()["notAfter"])
    remaining = datetime.datetime.fromtimestamp(not_after, datetime.UTC) - datetime.datetime.now(
        datetime.UTC
    )
    assert remaining > MIN_VALIDITY
