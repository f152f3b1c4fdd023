"""The firewall role: default deny, drop-ins open exactly what they name, reloads are safe."""

import ipaddress
import json

import pytest

testinfra_hosts = ["instance-firewall"]


def reachable(client, address: str, port: int) -> bool:
    """Whether client completes a TCP handshake with address:port within three seconds."""
    return client.run(f"timeout 3 bash -c 'exec 3<>/dev/tcp/{address}/{port}'").rc == 0


def chains(host) -> dict[str, dict]:
    """Base chains of table inet filter as nft reports them, by name."""
    listing = json.loads(host.check_output("nft -j list table inet filter"))["nftables"]
    return {item["chain"]["name"]: item["chain"] for item in listing if "chain" in item}


def test_input_policy_is_drop(host):
    """Incoming traffic no rule accepts is dropped."""
    assert chains(host)["input"]["policy"] == "drop"


def test_forward_policy_matches_variable(host, role_vars):
    """Routed traffic follows firewall_forward_policy."""
    assert chains(host)["forward"]["policy"] == role_vars["firewall_forward_policy"]


def test_nftables_enabled_and_active(host):
    """The ruleset is loaded now and at every boot."""
    service = host.service("nftables")
    assert service.is_enabled and service.is_running


def test_dropin_directory_is_private(host, role_vars):
    """Only root reads or writes other roles' drop-ins."""
    directory = host.file(role_vars["firewall_dropin_dir"])
    assert (directory.is_directory, directory.user, directory.mode) == (True, "root", 0o750)


def test_ruleset_loads_without_dropins(host, role_vars):
    """An empty drop-in directory is a valid ruleset (machines with no open ports)."""
    empty = host.check_output("mktemp -d")
    config = host.check_output(
        f"sed 's|{role_vars['firewall_dropin_dir']}|{empty}|' /etc/nftables.conf > {empty}.conf"
        f" && echo {empty}.conf"
    )
    result = host.run(f"nft -c -f {config}")
    host.run(f"rm -rf {empty} {config}")
    assert result.rc == 0, result.stderr


@pytest.mark.parametrize(
    ("port_variable", "expected"),
    [("molecule_firewall_open_port", True), ("molecule_firewall_closed_port", False)],
)
def test_port_reachability_from_peer(host, peer, address, role_vars, port_variable, expected):
    """A listening port is reachable from the peer only when a drop-in opens it."""
    port = role_vars[port_variable]
    assert host.socket(f"tcp://0.0.0.0:{port}").is_listening
    assert reachable(peer, address, port) is expected


def test_ssh_reachable_from_allowed_source(peer, address, role_vars):
    """SSH answers a source inside firewall_ssh_allowed_cidrs."""
    source = ipaddress.ip_address(peer.interface.default().addresses[0])
    networks = [ipaddress.ip_network(cidr) for cidr in role_vars["firewall_ssh_allowed_cidrs"]]
    assert any(source in network for network in networks)
    assert reachable(peer, address, role_vars["firewall_ssh_port"])


def test_replies_to_outbound_connections_are_accepted(host, peer):
    """Replies to connections the machine opens itself come back in (established state)."""
    banner = host.run(
        "timeout 3 bash -c 'exec 3<>/dev/tcp/%s/22 && head -c 7 <&3'",
        peer.interface.default().addresses[0],
    )
    assert banner.stdout == "SSH-2.0"


def test_reload_keeps_established_ssh_session(peer, address):
    """Reloading the firewall from inside an SSH session does not cut that session."""
    result = peer.run(
        "ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o ConnectTimeout=3 debian@%s "
        "'sudo systemctl reload nftables.service && sleep 1 && echo still-connected'",
        address,
    )
    assert result.stdout.strip() == "still-connected", result.stderr
