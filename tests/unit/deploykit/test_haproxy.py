"""deploykit.haproxy: "show stat" and "show servers state" read as HAProxy 2.6 writes them."""

from deploykit.haproxy import RUNNING, RuntimeAPI, parse_stat
from deploykit.probes.haproxy_api import server_states

SHOW_STAT = (
    "# pxname,svname,qcur,scur,status,check_status,addr,\n"
    "https,FRONTEND,,5,OPEN,,,\n"
    "web,web1,0,2,UP,* L7OK,10.0.0.11:8080,\n"
    "web,web2,0,1,DOWN,L4CON,10.0.0.12:8080,\n"
    "web,BACKEND,0,3,UP,,,\n"
    "stats,stats1,0,4,UP,L7OK,127.0.0.1:9000,\n"
    "\n"
)
SHOW_SERVERS_STATE = (
    "1\n"
    "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_port\n"
    "3 web 1 web1 10.0.0.11 2 0 8080\n"
    "3 web 2 web2 10.0.0.12 0 0 8080\n"
    "4 other 1 o1 10.0.0.13 2 0 9000\n"
)


class FakeProbe:
    """Stands in for the haproxy_api probe on the load balancer: records its arguments."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, *args: str) -> str:
        self.calls.append(args)
        command = args[2]
        return {"show stat": SHOW_STAT, "show servers state": SHOW_SERVERS_STATE}.get(command, "")


def test_parse_stat_reads_the_csv_by_column_name() -> None:
    rows = parse_stat(SHOW_STAT)
    assert [r["svname"] for r in rows] == ["FRONTEND", "web1", "web2", "BACKEND", "stats1"]
    assert rows[1]["addr"] == "10.0.0.11:8080"


def test_servers_of_a_backend_without_the_check_in_progress_mark() -> None:
    """Only the backend's servers (no FRONTEND/BACKEND rows), check_status without "* "."""
    servers = RuntimeAPI(FakeProbe(), "/run/haproxy/admin.sock").servers("web")
    assert set(servers) == {"web1", "web2"}
    assert servers["web1"]["check_status"] == "L7OK"
    assert servers["web2"]["status"] == "DOWN"


def test_sessions_count_only_the_servers_on_the_port() -> None:
    assert RuntimeAPI(FakeProbe(), "/s").sessions(8080) == 3


def test_server_states_by_address_for_the_port() -> None:
    states = RuntimeAPI(FakeProbe(), "/s").server_states(8080)
    assert states == {"10.0.0.11": RUNNING, "10.0.0.12": 0}
    assert server_states(SHOW_SERVERS_STATE, "9000") == {"10.0.0.13": 2}


def test_commands_go_to_the_probe_with_the_socket() -> None:
    probe = FakeProbe()
    api = RuntimeAPI(probe, "/run/haproxy/admin.sock")
    api.set_server_state("web", "web1", "drain")
    assert probe.calls == [("/run/haproxy/admin.sock", "send", "set server web/web1 state drain")]
    assert api.watch_arguments(8080, "10.0.0.11", 30) == (
        "/run/haproxy/admin.sock",
        "watch",
        "8080",
        "10.0.0.11",
        "30",
    )
