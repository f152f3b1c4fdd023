"""deploykit.process: a server picks its own port and is found by its log; stopping is by handle."""

import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

from deploykit.process import launch, stop_process
from deploykit.wait import until

# A server that takes --host/--port like the project's, binds the port it is given (0: the
# kernel picks), logs its URL, and answers every GET with "hello".
SERVER = textwrap.dedent(
    """
    import argparse, http.server, sys
    parser = argparse.ArgumentParser()
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    args = parser.parse_args()
    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"hello")
    server = http.server.HTTPServer((args.host, args.port), Hello)
    print(f"serving on http://{args.host}:{server.server_port}/", file=sys.stderr, flush=True)
    server.serve_forever()
    """
)


def test_launch_reads_the_url_the_server_logs(tmp_path: Path) -> None:
    """The URL is the one the server chose; it answers there, and stop() ends it."""
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    served = launch([sys.executable, str(script)], {}, tmp_path / "server.log")
    try:
        assert served.url.startswith("http://127.0.0.1:")
        assert not served.url.endswith(":0")
        with urllib.request.urlopen(served.url, timeout=5) as response:  # noqa: S310 (loopback)
            assert response.read() == b"hello"
    finally:
        served.stop()
    assert served.process.poll() is not None


def test_launch_passes_the_environment_over_ours(tmp_path: Path) -> None:
    """The given variables reach the server, on top of this process's environment."""
    script = tmp_path / "env.py"
    script.write_text(
        "import os\nprint(os.environ['KIT_TEST'], os.environ['PATH'] != '', flush=True)\n"
        "print('http://127.0.0.1:1', flush=True)\nimport time\ntime.sleep(30)\n"
    )
    served = launch([sys.executable, str(script)], {"KIT_TEST": "given"}, tmp_path / "env.log")
    served.stop()
    assert served.log.read_text().splitlines()[0] == "given True"


def test_a_server_that_exits_is_reported_with_its_log(tmp_path: Path) -> None:
    """A server that dies before logging a URL fails at once, showing what it said."""
    script = tmp_path / "broken.py"
    script.write_text("import sys\nprint('bad configuration', file=sys.stderr)\nsys.exit(3)\n")
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="bad configuration"):
        launch([sys.executable, str(script)], {}, tmp_path / "broken.log")
    assert time.monotonic() - started < 10


def test_a_server_that_never_logs_its_url_is_stopped(tmp_path: Path) -> None:
    """Past the deadline the process is ended and the error says it did not start."""
    script = tmp_path / "silent.py"
    script.write_text("import time\ntime.sleep(60)\n")
    with pytest.raises(RuntimeError, match="did not start"):
        launch([sys.executable, str(script)], {}, tmp_path / "silent.log", seconds=0.5)


def test_stop_process_kills_what_ignores_sigterm(tmp_path: Path) -> None:
    """A process that ignores SIGTERM is killed after the grace period."""
    ready = tmp_path / "ready"
    code = (
        "import signal, time, pathlib\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"pathlib.Path({str(ready)!r}).touch()\ntime.sleep(60)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code])
    until(ready.exists, 10, "the process did not start", interval=0.02)
    stop_process(process, grace_seconds=0.2)
    assert process.returncode == -9
