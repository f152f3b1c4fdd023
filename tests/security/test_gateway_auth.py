"""The LLM gateway answers 401 to every wrong, empty or malformed credential, Basic or Bearer,
with a JSON body like Ollama's own errors; and the token it checks travels only over strong TLS.

Probed from a web machine (the only place the firewall lets reach the gateway), with the gateway
CA that the webapp role installed there, so TLS is verified as the app verifies it. The right
token, as Basic credentials and as a Bearer token, is the control: the probe must be able to get
a 200, or a 401 would prove nothing.
"""

import json
import shlex

import pytest

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

# Handshakes the gateway must refuse: protocols older than TLS 1.2, and TLS 1.2 with CBC suites
# (outside Mozilla's "intermediate" policy). The client offers them at OpenSSL's security level
# 0, so that only the server's policy can refuse them.
WEAK_HANDSHAKES = {
    "TLS 1.0": ["-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"],
    "TLS 1.1": ["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"],
    "TLS 1.2 with a CBC suite": [
        "-tls1_2",
        "-cipher",
        "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:AES128-SHA:@SECLEVEL=0",
    ],
}


@pytest.fixture(scope="module")
def answers(topology) -> dict[str, list]:
    """Every case's answer from every LLM machine's gateway, by case; each a list per machine."""
    by_case: dict[str, list] = {}
    for machine in topology.llm:
        port = str(topology.var(machine, "llm_gateway_port"))
        out = topology.python(
            topology.web[0],
            "gateway_auth",
            machine.private_address,
            port,
            topology.gateway_ca_path(topology.web[0]),
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


@pytest.mark.parametrize("handshake", WEAK_HANDSHAKES)
def test_weak_tls_is_refused(topology, handshake: str) -> None:
    """No LLM machine's gateway completes a handshake that falls short of its TLS policy."""
    for machine in topology.llm:
        target = f"{machine.private_address}:{topology.var(machine, 'llm_gateway_port')}"
        command = shlex.join(
            ["openssl", "s_client", "-connect", target, *WEAK_HANDSHAKES[handshake]]
        )
        done = topology.run(topology.web[0], f"{command} </dev/null", check=False, timeout=30)
        agreed = done.returncode == 0 and "Cipher is (NONE)" not in done.stdout
        assert not agreed, f"{machine.name}: the gateway accepts {handshake}"
