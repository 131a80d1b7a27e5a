"""Faults on the token endpoint and on Graph: bounded retries, then a clear failure; real ansible-playbook runs.

Each case of the matrix is one verification with a refresh token (a token request, then a Graph $batch) through
one fault; the role tests show that a run failed by a fault loses nothing.
"""

from __future__ import annotations

import dataclasses
import datetime
import pathlib
import socket
import time

import pytest
import requests
import yaml
from ansible.parsing.vault import VaultLib, VaultSecret
from msemu.process import EmulatorProcess

PLAYBOOK = pathlib.Path(__file__).parent / "playbooks" / "faults" / "verify.yml"
PUBLIC_APP = "3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11"
ADELE = "adele@contoso.onmicrosoft.com"
SCOPES = ["offline_access", "User.Read", "Files.Read"]
TOKEN, GRAPH = "token", "batch"
# Short bounds keep the matrix fast: at most one second of waits per request, five seconds per answer.
MAX_RETRY_WAIT = 1
TIMEOUT = 5
# Past the timeout of the delay cases; the emulator answers (and logs) an abandoned request DELAY after it came.
SHORT_TIMEOUT, DELAY = 1, 1.2


@dataclasses.dataclass(frozen=True)
class Case:
    """A fault kept up on one endpoint, and what that endpoint must see: ``attempts`` requests, then ``reason``
    with ``message`` in the failure's msg."""

    endpoint: str
    fault: dict
    reason: str
    attempts: int
    message: str

    @property
    def timeout(self) -> float:
        return SHORT_TIMEOUT if self.fault["kind"] == "delay" else TIMEOUT


def cases(endpoint: str) -> list:
    """The fault matrix for one endpoint."""
    # A request whose answer was lost is sent again only when that is safe: the Graph $batch only reads,
    # while a refresh the service acted on has rotated its token out.
    lost = 2 if endpoint == GRAPH else 1
    rows = {
        # 1 s asked, 1 s allowed: one retry, then the next wait would pass the bound.
        "429_integer_retry_after": (dict(kind="status", status=429, retry_after="1"), "throttled", 2, "1 s"),
        # 0.1 s three times stays within the bound: the three retries allowed, and no more.
        "429_fractional_retry_after": (dict(kind="status", status=429, retry_after="0.1"), "throttled", 4, "0.1 s"),
        "retry_after_past_the_bound": (dict(kind="status", status=429, retry_after="120"), "throttled", 1, "120 s"),
        "500": (dict(kind="status", status=500), "server_error", 1, "HTTP 500"),
        # The backoff's 0.5 s, then its 1 s would pass the bound.
        "503": (dict(kind="status", status=503), "server_error", 2, "HTTP 503"),
        "504": (dict(kind="status", status=504), "server_error", 2, "HTTP 504"),
        "delay_past_timeout": (dict(kind="delay", delay=DELAY), "network", lost, "Read timed out"),
        "dropped_connection": (dict(kind="drop"), "network", lost, "Connection aborted"),
        # Text where JSON belongs, in a success: not retried, since it is no transient status.
        "non_json_body": (dict(kind="non_json", status=200), "unexpected_response", 1, "JSON"),
        "proxy_html_page": (dict(kind="html"), "server_error", 1, "HTTP 502 without Microsoft's error details"),
    }
    return [
        pytest.param(Case(endpoint, dict(fault, count=10), reason, attempts, message), id=f"{endpoint}-{name}")
        for name, (fault, reason, attempts, message) in rows.items()
    ]


MATRIX = cases(TOKEN) + cases(GRAPH)


@pytest.fixture
def verify_through(ansible_run, emulator):
    """Runs the faults playbook with a fresh grant; returns (Verify task status, Report, run)."""

    def run(*, login_url=None, graph_url=None, trust_emulator=True, timeout=TIMEOUT):
        tokens = emulator.grant(PUBLIC_APP, ADELE, SCOPES)
        emulator.clear_log()
        variables = dict(
            client_id=PUBLIC_APP,
            refresh_token=tokens["refresh_token"],
            login_url=login_url or emulator.base_url,
            graph_url=graph_url or emulator.base_url,
            timeout=timeout,
            max_retry_wait=MAX_RETRY_WAIT,
        )
        if trust_emulator:
            variables["ca_path"] = emulator.ca_path
        result = ansible_run(str(PLAYBOOK), extra_vars=variables)
        assert result.rc == 0, result.output
        status = next(task["status"] for task in result.tasks if task["name"] == "Verify")
        return status, result.task("Report")["msg"], result

    return run


def assert_clean(run, emulator):
    """No traceback, and not one secret the emulator issued or received, anywhere in the run's output."""
    assert "Traceback" not in run.output and "MODULE FAILURE" not in run.output, run.output
    for secret in emulator.issued():
        assert secret not in run.output


@pytest.mark.parametrize("case", MATRIX)
def test_fault(emulator, verify_through, case):
    emulator.fault(case.endpoint, **case.fault)
    status, report, run = verify_through(timeout=case.timeout)
    result = report["result"]
    assert status == "failed" and result["reason"] == case.reason, result
    assert case.message in result["msg"]
    expected = {TOKEN: case.attempts} if case.endpoint == TOKEN else {TOKEN: 1, GRAPH: case.attempts}
    if case.fault["kind"] == "delay":
        time.sleep(DELAY - SHORT_TIMEOUT)  # until the emulator has answered, and logged, the last abandoned request
    assert emulator.log()["counts"] == expected
    if case.reason == "network":
        assert f"({case.attempts} attempt(s))" in result["msg"]
        assert ("not sent again" in result["msg"]) is (case.endpoint == TOKEN)
    # A refresh that succeeded before Graph failed hands back the rotated token for the caller to store.
    assert report["refresh_token_is_new"] is (case.endpoint == GRAPH)
    assert_clean(run, emulator)


@pytest.fixture
def closed_port():
    """A local port nothing listens on: bound once by this test, then released."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("endpoint", [TOKEN, GRAPH])
def test_refused_connection(emulator, verify_through, closed_port, endpoint):
    nowhere = f"https://127.0.0.1:{closed_port}"
    status, report, run = verify_through(**{"login_url" if endpoint == TOKEN else "graph_url": nowhere})
    result = report["result"]
    assert status == "failed" and result["reason"] == "network", result
    # The backoff's 0.5 s, then its 1 s would pass the bound.
    assert f"127.0.0.1:{closed_port} (2 attempt(s))" in result["msg"] and "refused" in result["msg"].lower()
    assert emulator.log()["counts"] == ({} if endpoint == TOKEN else {TOKEN: 1})
    assert_clean(run, emulator)


@pytest.fixture(scope="module")
def stranger(tmp_path_factory):
    """Another emulator, whose certificate comes from a CA the tests never trust."""
    with EmulatorProcess(tmp_path_factory.mktemp("stranger"), https=True) as process:
        yield process.client


@pytest.mark.parametrize("endpoint", [TOKEN, GRAPH])
def test_untrusted_certificate(emulator, verify_through, stranger, endpoint):
    if endpoint == TOKEN:
        # Without ca_path only the system's CAs are trusted (REQUESTS_CA_BUNDLE included), never the emulator's.
        status, report, run = verify_through(trust_emulator=False)
        host = emulator.base_url
    else:
        status, report, run = verify_through(graph_url=stranger.base_url)
        host = stranger.base_url
    result = report["result"]
    assert status == "failed" and result["reason"] == "tls", result
    assert f"TLS with {host.split('//')[1]} failed" in result["msg"] and "certificate verify failed" in result["msg"]
    assert ("Set ca_path" if endpoint == TOKEN else f"Check that ca_path ({emulator.ca_path})") in result["msg"]
    # Nothing is retried: the handshake fails before any request is sent.
    assert emulator.log()["counts"] == ({} if endpoint == TOKEN else {TOKEN: 1})
    assert_clean(run, emulator)


def test_the_emulators_ca_in_ca_path_is_trusted(emulator, verify_through):
    status, report, run = verify_through()
    assert status == "ok" and report["result"]["user"]["user_principal_name"] == ADELE
    assert emulator.log()["counts"] == {TOKEN: 1, GRAPH: 1}
    assert_clean(run, emulator)


# --- roles: a failed run loses nothing ---


def days_ago(days):
    moment = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=days)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def vault(emulator, collection_playbook):
    """The role tests' vault holding connection robot1, due for rotation; returns its record."""
    tokens = emulator.grant(PUBLIC_APP, ADELE, SCOPES)
    record = dict(client_id=PUBLIC_APP, refresh_token=tokens["refresh_token"], obtained_at=days_ago(8))
    lib = VaultLib([("default", VaultSecret(collection_playbook.password_file.read_text().strip().encode()))])
    collection_playbook.vault.write_bytes(lib.encrypt(yaml.safe_dump({"onedrive_connections": {"robot1": record}})))
    return record


def without_verdicts(document):
    """The vault's data without the verdicts the last checks recorded (connection_status reads them)."""
    verdict = ("last_status", "last_reason", "last_checked_at")
    connections = {
        name: {key: value for key, value in record.items() if key not in verdict}
        for name, record in document["onedrive_connections"].items()
    }
    return {**document, "onedrive_connections": connections}


def refreshes(emulator, refresh_token):
    """Whether the emulator's token endpoint accepts ``refresh_token`` (checked outside Ansible)."""
    answer = requests.post(
        f"{emulator.base_url}/common/oauth2/v2.0/token",
        data=dict(client_id=PUBLIC_APP, grant_type="refresh_token", refresh_token=refresh_token),
        verify=emulator.ca_path,
        timeout=10,
    )
    return answer.status_code == 200


def test_rotate_role_timed_out_at_the_token_endpoint_keeps_the_old_token_which_still_works(
    emulator, collection_playbook, vault
):
    # The claim taken before the refresh is released again: the data is as it was, with the failure's verdict.
    before = collection_playbook.read()
    # The emulator refreshes after the client gave up: the service rotated, but the answer was lost.
    emulator.fault(TOKEN, "delay", delay=DELAY)
    run = collection_playbook("rotate", extra_vars={"onedrive_timeout": SHORT_TIMEOUT})
    assert run.rc != 0 and "robot1 could not be rotated now (network)" in run.output, run.output
    assert without_verdicts(collection_playbook.read()) == without_verdicts(before)
    assert collection_playbook.read()["onedrive_connections"]["robot1"]["last_reason"] == "network"
    assert_clean(run, emulator)
    time.sleep(DELAY - SHORT_TIMEOUT)
    assert emulator.log()["counts"] == {TOKEN: 1}
    # In the default rotation mode the service keeps a rotated-out token valid, so the stored one still works.
    assert refreshes(emulator, vault["refresh_token"])


def test_rotate_role_failed_at_graph_stores_the_new_token(emulator, collection_playbook, vault):
    emulator.fault(GRAPH, "status", count=10, status=503, retry_after="120")
    run = collection_playbook("rotate")
    assert run.rc != 0 and "robot1 could not be rotated now (throttled)" in run.output, run.output
    stored = collection_playbook.read()["onedrive_connections"]["robot1"]
    assert stored["refresh_token"] != vault["refresh_token"] and "verified_at" not in stored
    assert_clean(run, emulator)
    assert refreshes(emulator, stored["refresh_token"])


def test_plugin_role_failed_by_a_fault_leaves_vault_and_plugin_file_unchanged(
    emulator, collection_playbook, vault, tmp_path
):
    plugin_file = tmp_path / "plugin.json"
    options = dict(onedrive_plugin_config_path=str(plugin_file))
    assert collection_playbook("configure_plugin", extra_vars=options).rc == 0
    vault_before, plugin_before = collection_playbook.read(), plugin_file.read_bytes()
    # Test Connection redeems the refresh token once its proof is older than onedrive_plugin_test_after (here at
    # once): a proxy's page in place of the token endpoint's answer fails it.
    emulator.fault(TOKEN, "html")
    run = collection_playbook("configure_plugin", extra_vars=dict(options, onedrive_plugin_test_after="0"))
    assert run.rc != 0 and "Test Connection failed for robot1 (server_error)" in run.output, run.output
    assert_clean(run, emulator)
    assert without_verdicts(collection_playbook.read()) == without_verdicts(vault_before)
    assert collection_playbook.read()["onedrive_connections"]["robot1"]["last_reason"] == "server_error"
    assert plugin_file.read_bytes() == plugin_before


def test_plugin_role_first_configuration_failed_by_a_fault_writes_no_plugin_file(
    emulator, collection_playbook, vault, tmp_path
):
    plugin_file = tmp_path / "plugin.json"
    vault_before = collection_playbook.read()
    emulator.fault(TOKEN, "status", status=429, retry_after="120")
    run = collection_playbook("configure_plugin", extra_vars=dict(onedrive_plugin_config_path=str(plugin_file)))
    assert run.rc != 0 and "Test Connection failed for robot1 (throttled)" in run.output, run.output
    assert_clean(run, emulator)
    assert without_verdicts(collection_playbook.read()) == without_verdicts(vault_before)
    assert not plugin_file.exists()
