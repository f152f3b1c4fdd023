"""Shared fixtures: the roles' variables as the instance sees them, and TLS helpers."""

import pytest

from deploykit.variables import scenario_host_vars


@pytest.fixture(scope="module")
def role_vars(host) -> dict:
    """The scenario's inventory and the roles' variables as Ansible resolved them for it."""
    return scenario_host_vars(host)


@pytest.fixture(scope="module")
def lineage(role_vars) -> str:
    """The folder certbot keeps the current certificate in."""
    return f"/etc/letsencrypt/live/{role_vars['public_hostname']}"


@pytest.fixture(scope="module")
def combined_pem(role_vars) -> str:
    """HAProxy's combined PEM for the site."""
    return f"{role_vars['haproxy_cert_dir']}/{role_vars['public_hostname']}.pem"


@pytest.fixture(scope="module")
def pebble_root(host, role_vars) -> str:
    """Pebble's root CA, fetched from its management endpoint into a file on the instance."""
    path = host.check_output("mktemp --suffix=.pem")
    host.check_output(
        "curl -sSf --cacert %s -o %s %s/roots/0",
        "/etc/letsencrypt/acme-ca.pem",
        path,
        role_vars["pebble_management_url"],
    )
    return path


@pytest.fixture(scope="module")
def served_serial(host, role_vars):
    """The serial number of the certificate HAProxy serves for the site right now."""

    def serial() -> str:
        return host.check_output(
            "openssl s_client -connect 127.0.0.1:%s -servername %s </dev/null 2>/dev/null"
            " | openssl x509 -noout -serial",
            str(role_vars["haproxy_https_port"]),
            role_vars["public_hostname"],
        )

    return serial
