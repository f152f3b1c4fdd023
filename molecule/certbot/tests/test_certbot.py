"""certbot obtains the site certificate from Pebble through HAProxy and renews it live."""

import pytest

from deploykit.wait import until


# First, so that the checks after it look at what the renewal path installed.
def test_forced_renewal_served_without_restart(host, role_vars, lineage, served_serial):
    """A forced renewal is served with a new serial by the same HAProxy master process."""
    master = host.check_output("systemctl show --property=MainPID --value haproxy.service")
    before = served_serial()
    # Without a terminal certbot renew first sleeps up to 8 minutes (to spread load on the CA).
    host.check_output(
        "REQUESTS_CA_BUNDLE=%s certbot renew --force-renewal --no-random-sleep-on-renew",
        role_vars["certbot_acme_ca_bundle_path"],
    )
    issued = host.check_output("openssl x509 -noout -serial -in %s/cert.pem", lineage)
    assert issued != before
    until(lambda: served_serial() == issued, 20, "HAProxy never served the renewed certificate")
    assert host.check_output("systemctl show --property=MainPID --value haproxy.service") == master


def test_served_certificate_chains_to_acme_root(host, role_vars, pebble_root):
    """HAProxy serves a certificate that verifies against the ACME server's root."""
    result = host.run(
        "openssl s_client -connect 127.0.0.1:%s -servername %s -CAfile %s"
        " -verify_return_error -verify_hostname %s </dev/null",
        str(role_vars["haproxy_https_port"]),
        role_vars["public_hostname"],
        pebble_root,
        role_vars["public_hostname"],
    )
    assert result.rc == 0, result.stderr


def test_combined_pem_is_private(host, combined_pem):
    """The combined PEM holds a private key: root only, mode 0600."""
    pem = host.file(combined_pem)
    assert (pem.is_file, pem.user, pem.group, pem.mode) == (True, "root", "root", 0o600)


def test_bootstrap_certificate_retired(host, role_vars):
    """Once the real certificate is in place, the self-signed bootstrap one is gone."""
    assert not host.file(
        f"{role_vars['haproxy_cert_dir']}/{role_vars['haproxy_bootstrap_cert_name']}"
    ).exists


def test_haproxy_config_validates(host, role_vars):
    """HAProxy's configuration, with the installed certificate, passes its own check."""
    host.run_expect([0], "haproxy -c -f %s", role_vars["haproxy_config_file"])


@pytest.mark.parametrize(
    ("key", "variable"),
    [
        ("server", "acme_directory_url"),
        ("authenticator", None),
        ("http01_address", "haproxy_acme_http01_address"),
        ("http01_port", "haproxy_acme_http01_port"),
    ],
)
def test_renewal_uses_same_route(host, role_vars, key, variable):
    """Renewals reuse the ACME server and the loopback listener HAProxy routes challenges to."""
    conf = host.file(f"/etc/letsencrypt/renewal/{role_vars['public_hostname']}.conf")
    expected = role_vars[variable] if variable else "standalone"
    assert f"{key} = {expected}" in conf.content_string.splitlines()


def test_renewal_timer_enabled(host):
    """certbot.timer is active and enabled, so renewals happen without Ansible."""
    timer = host.service("certbot.timer")
    assert timer.is_running and timer.is_enabled


def test_renewal_service_trusts_acme_ca(host, role_vars):
    """The renewal service gets the ACME server's CA through REQUESTS_CA_BUNDLE."""
    environment = host.check_output("systemctl show --property=Environment --value certbot.service")
    assert f"REQUESTS_CA_BUNDLE={role_vars['certbot_acme_ca_bundle_path']}" in environment.split()


def test_rejected_certificate_keeps_the_current_one(host, role_vars, combined_pem):
    """A lineage HAProxy cannot load makes the hook fail and leaves the served PEM untouched."""
    before = host.file(combined_pem).sha256sum
    bad = f"{host.check_output('mktemp -d')}/{role_vars['public_hostname']}"
    host.check_output(
        "mkdir -p %s && echo junk > %s/fullchain.pem && echo junk > %s/privkey.pem", bad, bad, bad
    )
    result = host.run("RENEWED_LINEAGE=%s %s", bad, role_vars["certbot_deploy_hook"])
    assert (result.rc != 0, host.file(combined_pem).sha256sum) == (True, before)
