"""Fixtures shared by the webapp scenario's tests."""

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

ROLE = (
    Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[3]))
    / "infrastructure/ansible/roles/webapp"
)

# Runs on the instance: one HTTP request with the standard library (the VM has no curl), answered
# as JSON so the tests see status, headers and body without parsing text.
_FETCH = """
import json, sys, urllib.error, urllib.request
method, url, body, headers = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
class Keep(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):
        return None
request = urllib.request.Request(url, data=body.encode() or None, method=method, headers=headers)
try:
    response = urllib.request.build_opener(Keep).open(request, timeout=10)
except urllib.error.HTTPError as error:
    response = error
print(json.dumps({"status": response.status, "headers": dict(response.headers.items()),
                  "body": response.read().decode("utf-8", "replace")}))
"""


@pytest.fixture
def role_vars(host) -> dict[str, Any]:
    """The role's defaults and internal vars overlaid with the inventory: what the role ran with."""
    merged: dict[str, Any] = {}
    for part in ("defaults/main.yml", "vars/main.yml"):
        merged.update(yaml.safe_load((ROLE / part).read_text()))
    return {**merged, **host.ansible.get_variables()}


@pytest.fixture
def container(host, role_vars) -> dict[str, Any]:
    """`docker inspect` of the web app container."""
    return json.loads(host.check_output(f"docker inspect {role_vars['webapp_container_name']}"))[0]


@pytest.fixture
def fetch(host, role_vars):
    """Make an HTTP request to the web app on the instance; returns status, headers and body."""

    def _fetch(
        path: str, method: str = "GET", body: str = "", headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        url = f"http://127.0.0.1:{role_vars['webapp_port']}{path}"
        result = host.run(
            "python3 -c %s %s %s %s %s",
            _FETCH,
            method,
            url,
            body,
            json.dumps(headers or {}),
        )
        assert result.rc == 0, result.stderr
        return json.loads(result.stdout)

    return _fetch
