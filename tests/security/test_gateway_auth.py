"""The LLM gateway answers 401 to every wrong, empty or malformed credential, Basic or Bearer,
with a JSON body like Ollama's own errors.

Probed from a web machine (the only place the firewall lets reach the gateway), with the gateway
CA that the webapp role installed there, so TLS is verified as the app verifies it. The right
token, as Basic credentials and as a Bearer token, is the control: the probe must be able to get
a 200, or a 401 would prove nothing.
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
    "right-bearer": "Bearer " + token,
    "none": None,
    "wrong-password": basic("webui", token[::-1]),
    "empty-password": basic("webui", ""),
    "wrong-user": basic("nobody", token),
    "empty-basic": "Basic ",
    "not-base64": "Basic !!!not-base64!!!",
    "no-colon": "Basic " + base64.b64encode(token.encode()).decode(),
    "bearer-wrong": "Bearer " + token[::-1],
    "bearer-empty": "Bearer ",
    "bearer-two-words": f"Bearer {token} {token}",
    "bearer-lower-case-wrong": "bearer " + token[::-1],
    "long": basic("webui", "x" * 5000),  # within Apache's 8 KiB header limit (beyond: 400)
    "bearer-long": "Bearer " + "x" * 5000,
}
context = ssl.create_default_context(cafile=ca_file)
out = {}
for name, value in cases.items():
    connection = http.client.HTTPSConnection(address, port, context=context, timeout=15)
    headers = {"Authorization": value} if value is not None else {}
    connection.request("GET", "/api/tags", headers=headers)
    response = connection.getresponse()
    out[name] = [response.status, response.getheader("Content-Type", ""), response.read().decode()]
    connection.close()
print(json.dumps(out))
"""

BAD_CASES = [
    "none",
    "wrong-password",
    "empty-password",
    "wrong-user",
    "empty-basic",
    "not-base64",
    "no-colon",
    "bearer-wrong",
    "bearer-empty",
    "bearer-two-words",
    "bearer-lower-case-wrong",
    "long",
    "bearer-long",
]


@pytest.fixture(scope="module")
def answers(topology) -> dict[str, list]:
    """Every case's answer from every LLM machine's gateway, by case; each a list per machine."""
    by_case: dict[str, list] = {}
    for machine in topology.llm:
        port = str(topology.var(machine, "llm_gateway", "llm_gateway_port"))
        out = topology.python(
            topology.web[0],
            PROBE,
            machine.private_address,
            port,
            gateway_ca_path(),
            root=True,
            stdin=topology.secret("vault_llm_gateway_token"),
        )
        for case, answer in json.loads(out).items():
            by_case.setdefault(case, []).append([machine.name, *answer])
    return by_case


@pytest.mark.parametrize("case", ["right-token", "right-bearer"])
def test_right_token_is_accepted(answers, case: str) -> None:
    """Control: the deployment's own token gets through, as Basic credentials or Bearer token."""
    assert all(status == 200 for _, status, _, _ in answers[case]), answers[case]


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_credentials_get_401(answers, case: str) -> None:
    """Anything but the right credentials is refused with 401, never passed to Ollama."""
    for machine, status, _, _ in answers[case]:
        assert status == 401, f"{case} on {machine}: HTTP {status}"


@pytest.mark.parametrize("case", BAD_CASES)
def test_refusals_are_ollama_style_json(answers, case: str) -> None:
    """A refusal carries {"error": "..."} as JSON, as Ollama's own errors do, not an HTML page."""
    for machine, _, content_type, body in answers[case]:
        assert content_type.startswith("application/json"), f"{case} on {machine}: {content_type}"
        error = json.loads(body)
        assert list(error) == ["error"] and isinstance(error["error"], str), f"{machine}: {body}"
