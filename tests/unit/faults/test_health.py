"""The health check reports any failure on its way as Unhealthy, so the runner records it."""

import httpx
import pytest

from deploykit.ssh import SSHError
from faults import health


@pytest.mark.parametrize(
    "error",
    [SSHError("lb: haproxy_api exited 255"), httpx.ConnectError("refused"), ValueError("not JSON")],
)
def test_any_failure_is_unhealthy(monkeypatch, error):
    def broken(topology):
        raise error

    monkeypatch.setattr(health, "web_servers_up", broken)
    with pytest.raises(health.Unhealthy, match=str(error)):
        health.check_health(object())
