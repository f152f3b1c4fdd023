"""A private CA and the server certificates it issues, for a root service and a group service."""

import pytest

# Per service, under molecule_tls_root: (server directory, CA directory, key readable by a group)
SERVICES = {
    "root-service": ("root-service", "root-service", False),
    "group-service": ("group-service", "group-service-ca", True),
}


@pytest.fixture
def variables(host):
    return host.ansible.get_variables()


@pytest.fixture
def paths(variables):
    """A service's server directory, CA directory and key group, as converge.yml gave them."""

    def _paths(service):
        server, ca, grouped = SERVICES[service]
        root = variables["molecule_tls_root"]
        group = variables["molecule_tls_group"] if grouped else "root"
        return f"{root}/{server}", f"{root}/{ca}", group

    return _paths


@pytest.mark.parametrize("service", SERVICES)
def test_server_certificate_is_issued_by_the_ca(host, paths, service):
    """The server certificate verifies against its CA for TLS server use."""
    server_dir, ca_dir, _ = paths(service)
    host.run_expect(
        [0], "openssl verify -purpose sslserver -CAfile %s/ca.crt %s/server.crt", ca_dir, server_dir
    )


@pytest.mark.parametrize("service", SERVICES)
def test_server_certificate_names(host, variables, paths, service):
    """The machine's name, its private address and loopback are on the certificate."""
    server_dir, _, _ = paths(service)
    sans = host.check_output(
        "openssl x509 -noout -ext subjectAltName -in %s/server.crt", server_dir
    )
    for name in (
        f"DNS:{variables['inventory_hostname']}",
        "DNS:localhost",
        "IP Address:127.0.0.1",
        f"IP Address:{variables['private_address']}",
    ):
        assert name in sans


@pytest.mark.parametrize("service", SERVICES)
def test_ca_key_is_root_only(host, paths, service):
    """The CA key is readable by root alone, in a directory only root can enter."""
    _, ca_dir, _ = paths(service)
    key = host.file(f"{ca_dir}/ca.key")
    assert (key.user, key.group, key.mode) == ("root", "root", 0o600)
    assert host.file(ca_dir).mode & 0o077 == 0


@pytest.mark.parametrize(
    ("service", "mode", "dir_mode"),
    [("root-service", 0o600, 0o700), ("group-service", 0o640, 0o750)],
)
def test_server_key_is_readable_by_its_group_only(host, paths, service, mode, dir_mode):
    """The server key is root's, readable by the service's group when that is not root."""
    server_dir, _, group = paths(service)
    key = host.file(f"{server_dir}/server.key")
    assert (key.user, key.group, key.mode) == ("root", group, mode)
    directory = host.file(server_dir)
    assert (directory.group, directory.mode) == (group, dir_mode)


def test_ca_key_stays_out_of_a_separate_server_directory(host, paths):
    """With the CA apart, the server directory (what a container mounts) holds no CA key."""
    server_dir, _, _ = paths("group-service")
    assert not host.file(f"{server_dir}/ca.key").exists


def test_published_fact_is_the_ca_certificate(host, variables, paths):
    """private_tls_ca_pem is the CA certificate of the last service, for its clients to trust."""
    _, ca_dir, _ = paths("group-service")
    published = host.file(f"{variables['molecule_tls_root']}/published-ca.pem").content_string
    assert published == host.file(f"{ca_dir}/ca.crt").content_string


def test_a_new_certificate_notifies_the_including_role(host, variables):
    """The handler topic "private_tls certificate changed" reached the play's listener."""
    assert host.file(f"{variables['molecule_tls_root']}/service-reloaded").exists
