"""The LLM gateway answers 401 to every wrong, empty or malformed credential.

Probed from a web machine (the only place the firewall lets reach the gateway), with the gateway
CA that the webapp role installed there, so TLS is verified as the app verifies it. The right
token is the control: the probe must be able to get a 200, or a 401 would prove nothing.
"""

import json

import pytest

from bench.topology import gateway_ca_path

PROBE = r"""
import base64, http.client, json, ssl, sys
address, port, ca_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
token = sys.stdin.read().strip()
def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
cases = {
    "right-token": basic("webui", token),
    "none": None,
    "wrong-password": basic("webui", token[::-1]),
    "empty-password": basic("webui", ""),
    "wrong-user": basic("nobody", token),
    "empty-basic": "Basic ",
    "not-base64": "Basic !!!not-base64!!!",
    "no-colon": "Basic " + base64.b64encode(token.encode()).decode(),
    "bearer-token": "Bearer " + token,
    "bearer-empty": "Bearer ",
    "long": basic("webui", "x" * 5000),  # within Apache's 8 KiB header limit (beyond: 400)
}
context = ssl.create_default_context(cafile=ca_file)
out = {}
for name, value in cases.items():
    connection = http.client.HTTPSConnection(address, port, context=context, timeout=15)
    headers = {"Authorization": value} if value is not None else {}
    connection.request("GET", "/api/tags", headers=headers)
    out[name] = connection.getresponse().status
    connection.close()
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def statuses(topology) -> dict[str, int]:
    port = str(topology.var(topology.llm, "llm_gateway", "llm_gateway_port"))
    out = topology.python(
        topology.web[0],
        PROBE,
        topology.llm.private_address,
        port,
        gateway_ca_path(),
        root=True,
        stdin=topology.secret("vault_llm_gateway_token"),
    )
    return json.loads(out)


def test_right_token_is_accepted(statuses) -> None:
    """Control: the deployment's own credentials get through."""
    assert statuses["right-token"] == 200


@pytest.mark.parametrize(
    "case",
    [
        "none",
        "wrong-password",
        "empty-password",
        "wrong-user",
        "empty-basic",
        "not-base64",
        "no-colon",
        "bearer-token",
        "bearer-empty",
        "long",
    ],
)
def test_bad_credentials_get_401(statuses, case: str) -> None:
    """Anything but the right credentials is refused with 401, never passed to Ollama."""
    assert statuses[case] == 401, f"{case}: HTTP {statuses[case]}"
