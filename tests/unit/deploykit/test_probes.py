"""The probes' main() against local stand-ins of what they meet on the machines."""

import base64
import io
import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploykit.probes import (
    app_setting,
    ca_count,
    connect_from,
    gateway_auth,
    haproxy_api,
    http_json,
    https_fetch,
    https_lines,
    ollama_cancel,
    ollama_info,
    port_watch,
    raw_request,
    relay,
    runner_cpu,
    sqlite_query,
)
from deploykit.probes.haproxy_api import STOPPED


def output(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().out


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound and closed again)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def listening() -> Iterator[socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server


# --- HTTP on the machine's loopback -----------------------------------------------------------


def test_ollama_info_lists_version_and_model_names(monkeypatch, capsys) -> None:
    """Version object and the names of /api/tags, from Ollama on the given loopback port."""
    answers = {
        "http://127.0.0.1:11434/api/tags": {"models": [{"name": "a:1"}, {"name": "b:2"}]},
        "http://127.0.0.1:11434/api/version": {"version": "0.5.7", "simulator": True},
    }

    def urlopen(url: str, timeout: float) -> io.BytesIO:
        return io.BytesIO(json.dumps(answers[url]).encode())

    monkeypatch.setattr(ollama_info.urllib.request, "urlopen", urlopen)
    ollama_info.main(["11434"])
    assert json.loads(output(capsys)) == {
        "version": {"version": "0.5.7", "simulator": True},
        "models": ["a:1", "b:2"],
    }


def test_http_json_gets_and_posts(http_server, capsys) -> None:
    """Status on the first line, the body after; an empty body is a GET, else a JSON POST."""
    url = f"http://127.0.0.1:{http_server.port}/sim/stats"
    http_json.main([url, "", "5"])
    status, _, body = output(capsys).partition("\n")
    assert (status, json.loads(body)["method"]) == ("200", "GET")
    http_json.main([url, '{"model": "m"}', "5"])
    status, _, body = output(capsys).partition("\n")
    asked = json.loads(body)
    assert (asked["method"], asked["body"]) == ("POST", '{"model": "m"}')
    assert asked["headers"]["Content-Type"] == "application/json"


def test_http_json_reports_http_errors_with_their_body(http_server, capsys) -> None:
    http_json.main([f"http://127.0.0.1:{http_server.port}/missing", "", "5"])
    assert output(capsys) == '404\n{"error": "no"}\n'


def test_https_fetch_verifies_against_the_ca_and_keeps_redirects(
    https_server, certificate, capsys
) -> None:
    """TLS checked against CA_FILE; a redirect is answered as such, not followed."""
    base = f"https://127.0.0.1:{https_server.port}"
    https_fetch.main(["POST", f"{base}/login", "a=1", '{"X-Test": "yes"}', str(certificate[0])])
    answer = json.loads(output(capsys))
    assert answer["status"] == 200
    assert json.loads(answer["body"])["headers"]["X-Test"] == "yes"
    https_fetch.main(["GET", f"{base}/redirect", "", "{}", str(certificate[0])])
    answer = json.loads(output(capsys))
    assert (answer["status"], answer["headers"]["Location"]) == (302, "/elsewhere")


def test_https_fetch_refuses_an_unverified_certificate(https_server, capsys) -> None:
    """With the system's store, a self-signed certificate fails: status 0 and the error."""
    https_fetch.main(["GET", f"https://127.0.0.1:{https_server.port}/", "", "{}", ""])
    answer = json.loads(output(capsys))
    assert answer["status"] == 0 and "CERTIFICATE_VERIFY_FAILED" in answer["error"]


def test_https_fetch_reports_a_refused_connection_as_status_0(closed_port, capsys) -> None:
    https_fetch.main(["GET", f"http://127.0.0.1:{closed_port}/healthz", "", "{}", ""])
    assert json.loads(output(capsys))["status"] == 0


def test_https_lines_prints_status_headers_and_timed_lines(
    https_server, certificate, capsys
) -> None:
    """Status, headers as JSON, then [monotonic time, line] per body line; auth and body sent."""
    before = time.monotonic()
    https_lines.main(
        [
            str(certificate[0]),
            "127.0.0.1",
            str(https_server.port),
            "POST",
            "/api/chat",
            "Bearer t",
            '{"q": 1}',
        ]
    )
    status, headers, *lines = output(capsys).splitlines()
    assert status == "200"
    assert json.loads(headers)["Content-Type"] == "application/json"
    arrived, text = json.loads(lines[0])
    assert arrived >= before
    asked = json.loads(text)
    assert asked["headers"]["Authorization"] == "Bearer t"
    assert asked["headers"]["Accept-Encoding"] == "gzip, deflate"
    assert asked["body"] == '{"q": 1}'


def test_gateway_auth_asks_every_case_with_the_token_from_stdin(
    https_server, certificate, monkeypatch, capsys
) -> None:
    """One request per case; the right token is read from stdin, never from the arguments."""
    monkeypatch.setattr(sys, "stdin", io.StringIO("s3cret\n"))
    gateway_auth.main(["127.0.0.1", str(https_server.port), str(certificate[0])])
    answers = json.loads(output(capsys))
    assert set(answers) == set(gateway_auth.cases("s3cret"))
    sent = [r["headers"].get("Authorization") for r in https_server.received]
    assert sent == list(gateway_auth.cases("s3cret").values())
    assert all(status == 200 for status, _, _ in answers.values())


def test_gateway_auth_cases_hold_exactly_two_right_credentials() -> None:
    """Only right-token and right-bearer carry the token correctly; the rest are wrong."""
    cases = gateway_auth.cases("tok")
    basic = "Basic " + base64.b64encode(b"webui:tok").decode()
    right = {name for name, value in cases.items() if value in (basic, "Bearer tok")}
    assert right == {"right-token", "right-bearer"}
    assert cases["none"] is None


def test_raw_request_sends_bytes_as_given(http_server, capsys) -> None:
    request = b"GET /raw HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    encoded = base64.b64encode(request).decode()
    raw_request.main(["", "127.0.0.1", str(http_server.port), "plain", encoded])
    status, headers, body = output(capsys).split("\n", 2)
    assert status == "200"
    assert json.loads(headers)["Connection"] == "close"
    assert json.loads(body)["path"] == "/raw"


def test_raw_request_over_tls(https_server, certificate, capsys) -> None:
    request = b"GET /tls HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    encoded = base64.b64encode(request).decode()
    args = [str(certificate[0]), "127.0.0.1", str(https_server.port), "tls", encoded]
    raw_request.main(args)
    assert output(capsys).startswith("200\n")


# --- Sockets and processes ---------------------------------------------------------------------


def test_port_watch_sees_a_listening_port_open(listening, capsys) -> None:
    port = str(listening.getsockname()[1])
    assert port_watch.main([port, "open", "5"]) == 0
    ready, seen = output(capsys).split()
    assert ready == "ready" and float(seen) > 0


def test_port_watch_sees_a_closed_port_closed(closed_port, capsys) -> None:
    assert port_watch.main([str(closed_port), "closed", "5"]) == 0


def test_port_watch_times_out(closed_port, capsys) -> None:
    """A port that stays closed is never seen open: "timeout", exit 1, within the limit."""
    started = time.monotonic()
    assert port_watch.main([str(closed_port), "open", "0.2"]) == 1
    assert output(capsys).split() == ["ready", "timeout"]
    assert time.monotonic() - started < 5


def test_connect_from_says_how_a_connection_ended(listening, closed_port, capsys) -> None:
    connect_from.main(["127.0.0.1", "127.0.0.1", str(listening.getsockname()[1])])
    connect_from.main(["127.0.0.1", "127.0.0.1", str(closed_port)])
    assert output(capsys).split() == ["connected", "ConnectionRefusedError"]


def test_relay_joins_stdin_and_stdout_to_the_port(listening) -> None:
    """Bytes on stdin reach the port; what the port answers comes out on stdout."""

    def echo_once() -> None:
        connection, _ = listening.accept()
        with connection:
            data = b""
            while chunk := connection.recv(65536):
                data += chunk
            connection.sendall(data.upper())

    server = threading.Thread(target=echo_once, daemon=True)
    server.start()
    stdin_read, stdin_write = os.pipe()
    stdout_read, stdout_write = os.pipe()
    os.write(stdin_write, b"hello")
    os.close(stdin_write)
    relay.main([str(listening.getsockname()[1])], stdin=stdin_read, stdout=stdout_write)
    os.close(stdout_write)
    assert os.read(stdout_read, 100) == b"HELLO"
    for fd in (stdin_read, stdout_read):
        os.close(fd)
    server.join(5)


def test_runner_cpu_counts_only_ollama_runners(tmp_path: Path) -> None:
    """utime + stime of "ollama runner" processes; other processes, even ollama serve, don't."""
    processes = {
        "10": (
            b"/usr/local/bin/ollama\0runner\0--model\0x\0",
            "10 (ollama) S 1 2 3 4 5 6 7 8 9 10 7 5",
        ),
        "11": (b"/usr/local/bin/ollama\0serve\0", "11 (ollama) S 1 2 3 4 5 6 7 8 9 10 100 100"),
        "12": (b"python3\0x\0", "12 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 50 50"),
        "13": (b"/opt/ollama\0runner\0", "13 (my (odd) name) S 1 2 3 4 5 6 7 8 9 10 1 2"),
    }
    for pid, (cmdline, stat) in processes.items():
        (tmp_path / pid).mkdir()
        (tmp_path / pid / "cmdline").write_bytes(cmdline)
        (tmp_path / pid / "stat").write_text(stat)
    (tmp_path / "self").mkdir()
    assert runner_cpu.ticks(str(tmp_path)) == 7 + 5 + 1 + 2


def test_runner_cpu_main_prints_the_difference(monkeypatch, capsys) -> None:
    readings = iter([100, 130])
    monkeypatch.setattr(runner_cpu, "ticks", lambda: next(readings))
    monkeypatch.setattr(runner_cpu.time, "sleep", lambda seconds: None)
    runner_cpu.main(["2"])
    assert output(capsys) == "30\n"


# --- Files on the machine ----------------------------------------------------------------------


def test_sqlite_query_prints_rows_as_json(tmp_path: Path, capsys) -> None:
    database = tmp_path / "credentials.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE credentials (username TEXT, password_hash TEXT)")
        connection.execute("INSERT INTO credentials VALUES ('webui', '$2y$05$x')")
    connection.close()
    sqlite_query.main([str(database), "SELECT username, password_hash FROM credentials"])
    assert json.loads(output(capsys)) == [["webui", "$2y$05$x"]]


def test_ca_count_counts_the_certificates_of_a_bundle(certificate, tmp_path, capsys) -> None:
    bundle = tmp_path / "bundle.pem"
    pem = certificate[0].read_text()
    bundle.write_text(pem)
    ca_count.main([str(bundle)])
    assert output(capsys) == "1\n"


def test_app_setting_prints_the_apps_own_value(monkeypatch, capsys) -> None:
    """The app's settings as load_settings() reads them here, printed with repr()."""
    monkeypatch.setenv("WEBUI_NODE_NAME", "web-7")
    monkeypatch.setenv("WEBUI_REQUIRE_LOGIN", "false")
    app_setting.main(["node_name"])
    assert output(capsys) == "'web-7'\n"


# --- HAProxy's admin socket --------------------------------------------------------------------


class FakeAdminSocket:
    """A Unix socket answering HAProxy runtime-API commands from a script of answers."""

    def __init__(self, path: Path, answers: dict[str, list[str]]) -> None:
        self.commands: list[str] = []
        self._answers = answers
        self._server = socket.socket(socket.AF_UNIX)
        self._server.bind(str(path))
        self._server.listen()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:
                return
            with connection:
                command = connection.recv(65536).decode().strip()
                self.commands.append(command)
                queue = self._answers[command]
                connection.sendall((queue.pop(0) if len(queue) > 1 else queue[0]).encode())

    def close(self) -> None:
        self._server.close()


STATE_HEADER = "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_port\n"


def test_haproxy_api_sends_one_command(tmp_path: Path, capsys) -> None:
    admin = FakeAdminSocket(tmp_path / "admin.sock", {"show info": ["Name: HAProxy\n"]})
    try:
        assert haproxy_api.main([str(tmp_path / "admin.sock"), "send", "show", "info"]) == 0
    finally:
        admin.close()
    assert output(capsys) == "Name: HAProxy\n"
    assert admin.commands == ["show info"]


def test_haproxy_api_watch_prints_when_the_server_stops(tmp_path: Path, capsys) -> None:
    """ "ready", then the time once the server at the address is seen stopped."""
    running = STATE_HEADER + "3 web 1 web1 10.0.0.11 2 8080\n"
    stopped = STATE_HEADER + f"3 web 1 web1 10.0.0.11 {STOPPED} 8080\n"
    admin = FakeAdminSocket(tmp_path / "admin.sock", {"show servers state": [running, stopped]})
    try:
        before = time.time()
        args = [str(tmp_path / "admin.sock"), "watch", "8080", "10.0.0.11", "5"]
        assert haproxy_api.main(args) == 0
    finally:
        admin.close()
    ready, seen = output(capsys).split()
    assert ready == "ready" and float(seen) >= before
    assert admin.commands == ["show servers state", "show servers state"]


def test_haproxy_api_watch_times_out_while_the_server_runs(tmp_path: Path, capsys) -> None:
    running = STATE_HEADER + "3 web 1 web1 10.0.0.11 2 8080\n"
    admin = FakeAdminSocket(tmp_path / "admin.sock", {"show servers state": [running]})
    try:
        args = [str(tmp_path / "admin.sock"), "watch", "8080", "10.0.0.11", "0.2"]
        assert haproxy_api.main(args) == 1
    finally:
        admin.close()
    assert output(capsys).split() == ["ready", "timeout"]


# --- Ollama's runners after a client hangs up --------------------------------------------------


def test_ollama_cancel_streams_hangs_up_and_samples_the_runners(monkeypatch, capsys) -> None:
    """The server's children are the runners sampled; the stream is read, then closed."""
    tokens = b"".join(
        json.dumps({"response": "x", "done": False}).encode() + b"\n" for _ in range(3)
    )
    done = json.dumps({"response": "", "done": True}).encode() + b"\n"
    with socket.create_server(("127.0.0.1", 0)) as server:

        def serve_one() -> None:
            connection, _ = server.accept()
            with connection:
                connection.recv(65536)
                head = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n\r\n"
                connection.sendall(head + tokens + done)

        thread = threading.Thread(target=serve_one, daemon=True)
        thread.start()
        runner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        monkeypatch.setattr(ollama_cancel, "GRACE_SECONDS", 0.05)
        monkeypatch.setattr(ollama_cancel, "WATCH_SECONDS", 0.05)
        try:
            port = str(server.getsockname()[1])
            ollama_cancel.main(["127.0.0.1", port, str(os.getpid()), "close", '{"model": "m"}'])
        finally:
            runner.kill()
            runner.wait()
        thread.join(5)
    report = json.loads(output(capsys))
    assert str(runner.pid) in report["runners"]
    assert (report["chunks"], report["done_seen"]) == (4, True)
    assert report["cpu_after_hang_up"] >= 0
