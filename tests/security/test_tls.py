"""HAProxy's TLS against Mozilla's intermediate profile (sslyze) and testssl.sh's severities.

The one allowed exception is revocation information: Mozilla's profile asks for OCSP stapling,
but Let's Encrypt ended its OCSP service in 2025 (its certificates carry no OCSP URL, so there is
nothing to staple), and the local Pebble CA publishes neither OCSP nor CRLs. sslyze does not check
stapling at all, so the test checks it itself and names the deviation; testssl.sh rates a
certificate without revocation URLs HIGH (``cert_revocation``), which is the same deviation.
"""

import json
import subprocess
from pathlib import Path

import pytest
from sslyze import (
    CertificateInfoExtraArgument,
    ScanCommand,
    ScanCommandsExtraArguments,
    Scanner,
    ServerNetworkLocation,
    ServerScanRequest,
    ServerScanStatusEnum,
)
from sslyze.mozilla_tls_profile.tls_config_checker import (
    SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER,
    MozillaTlsConfiguration,
    ServerNotCompliantWithTlsConfiguration,
    TlsConfigurationEnum,
    check_server_against_tls_configuration,
)

ALLOWED_MOZILLA_DEVIATIONS = {"ocsp_staple"}
ALLOWED_TESTSSL_FINDINGS = {"cert_revocation"}


@pytest.fixture(scope="module")
def https_port(topology) -> int:
    return int(topology.var(topology.lb, "haproxy_https_port"))


@pytest.fixture(scope="module")
def sslyze_result(topology, https_port: int):
    location = ServerNetworkLocation(
        hostname=topology.hostname, port=https_port, ip_address=topology.lb.ansible_host
    )
    # The ACME CA (Pebble's root locally) is added as a trust store, so that path validation
    # means for this deployment what it means for its users; Let's Encrypt needs no addition.
    extra = ScanCommandsExtraArguments(
        certificate_info=CertificateInfoExtraArgument(custom_ca_file=Path(topology.ca_file))
        if topology.ca_file
        else None
    )
    scanner = Scanner()
    scanner.queue_scans(
        [
            ServerScanRequest(
                server_location=location,
                scan_commands={*SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER, ScanCommand.HEARTBLEED},
                scan_commands_extra_arguments=extra,
            )
        ]
    )
    (result,) = scanner.get_results()
    assert result.scan_status == ServerScanStatusEnum.COMPLETED, result.connectivity_error_trace
    return result


def _mozilla_issues(result) -> dict[str, str]:
    profile = MozillaTlsConfiguration.get(TlsConfigurationEnum.MOZILLA_INTERMEDIATE)
    issues: dict[str, str] = {}
    try:
        check_server_against_tls_configuration(result, profile)
    except ServerNotCompliantWithTlsConfiguration as error:
        issues.update(error.issues)
    deployments = result.scan_result.certificate_info.result.certificate_deployments
    if profile.ocsp_staple and not any(d.ocsp_response for d in deployments):
        issues["ocsp_staple"] = "no OCSP response is stapled"
    return issues


def test_sslyze_mozilla_intermediate(sslyze_result) -> None:
    """Versions, ciphers, curves, certificate and vulnerabilities match Mozilla intermediate."""
    issues = _mozilla_issues(sslyze_result)
    unexpected = {k: v for k, v in issues.items() if k not in ALLOWED_MOZILLA_DEVIATIONS}
    assert not unexpected, f"deviations from Mozilla intermediate: {unexpected}"


def test_certificate_chains_to_the_acme_ca(sslyze_result) -> None:
    """The served chain, in order, validates for the site's name against the ACME CA."""
    deployment = sslyze_result.scan_result.certificate_info.result.certificate_deployments[0]
    # Path validation includes the name check (sslyze validates for the scanned hostname).
    errors = {p.trust_store.name: p.validation_error for p in deployment.path_validation_results}
    assert deployment.verified_certificate_chain, f"the chain does not validate: {errors}"
    assert deployment.received_chain_has_valid_order


@pytest.fixture(scope="module")
def testssl_findings(topology, https_port: int, tmp_path_factory) -> list[dict]:
    out = tmp_path_factory.mktemp("testssl") / "findings.json"
    command = [
        "testssl",
        "--quiet",
        "--color",
        "0",
        "--warnings",
        "off",
        "--ip",
        topology.lb.ansible_host,
        "--jsonfile",
        str(out),
    ]
    if topology.ca_file:
        command += ["--add-ca", topology.ca_file]
    # /login: the header checks then look at an HTML page rather than a redirect.
    command.append(f"https://{topology.hostname}:{https_port}/login")
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    assert out.is_file(), f"testssl.sh wrote no findings: {done.stdout[-2000:]}"
    return json.loads(out.read_text())


@pytest.mark.timeout(960)
def test_testssl_reports_nothing_high(testssl_findings) -> None:
    """testssl.sh finds nothing HIGH or CRITICAL beyond the named revocation deviation."""
    serious = [
        f"{f['id']}: {f['finding']}"
        for f in testssl_findings
        if f["severity"] in ("HIGH", "CRITICAL") and f["id"] not in ALLOWED_TESTSSL_FINDINGS
    ]
    assert not serious, "testssl.sh: " + "; ".join(serious)
