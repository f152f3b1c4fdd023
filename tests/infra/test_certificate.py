"""The public certificate: issued by the configured ACME CA, for the site's name, not expiring."""

import datetime
import socket
import ssl

import pytest

MIN_VALIDITY = datetime.timedelta(days=14)


def _served_certificate(topology) -> dict:
    """The certificate HAProxy serves, verified; a failed verification fails the test (a
    fixture's failure would be an error)."""
    # Local deployments trust the local ACME server's root; cloud ones the system's store.
    port = int(topology.var(topology.lb, "haproxy_https_port"))
    with socket.create_connection((topology.lb.ansible_host, port), timeout=10) as raw:
        try:
            with topology.ssl_context().wrap_socket(raw, server_hostname=topology.hostname) as tls:
                return tls.getpeercert()
        except ssl.SSLCertVerificationError as error:
            # A self-signed certificate, or a chain without its intermediate, ends here.
            pytest.fail(
                f"HAProxy's certificate for {topology.hostname} does not verify: "
                f"{error.verify_message}"
            )


def test_certificate_chains_to_acme_ca_and_matches_name(topology):
    """The TLS handshake verifies against the ACME CA with hostname checking on."""
    assert _served_certificate(topology)["subject"]


def test_certificate_is_not_expiring(topology):
    """The certificate has at least two weeks left, so renewal is working or has time to."""
    not_after = ssl.cert_time_to_seconds(_served_certificate(topology)["notAfter"])
    remaining = datetime.datetime.fromtimestamp(not_after, datetime.UTC) - datetime.datetime.now(
        datetime.UTC
    )
    assert remaining > MIN_VALIDITY
