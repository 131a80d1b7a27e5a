"""Microsoft's answers seen in the field (issue 16), through real ansible-playbook runs of verify against the
emulator. The answers and where each was seen are in tests/emulator/msemu/answers.py."""

from __future__ import annotations

import pathlib

import pytest

PLAYBOOK = pathlib.Path(__file__).parent / "playbooks" / "verify" / "verify.yml"
PUBLIC_APP = "3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11"
SCOPES = ["offline_access", "User.Read", "Files.Read"]
ADELE = "adele@contoso.onmicrosoft.com"


@pytest.fixture
def verify(ansible_run, emulator):
    """Runs verify.yml for a fresh grant of Adele's; returns (Verify task status, its result without tokens)."""

    def run(**variables):
        tokens = emulator.grant(PUBLIC_APP, ADELE, SCOPES)
        variables = dict(
            emulator_url=emulator.base_url,
            ca_path=str(emulator.ca_path),
            client_id=PUBLIC_APP,
            refresh_token=tokens["refresh_token"],
            **variables,
        )
        result = ansible_run(str(PLAYBOOK), extra_vars=variables)
        assert result.rc == 0, result.output
        assert tokens["refresh_token"] not in result.output
        status = next(task["status"] for task in result.tasks if task["name"] == "Verify")
        return status, result.task("Report")["msg"]["result"]

    return run


@pytest.mark.parametrize(
    "answer, status",
    [("no_spo_license", 400), ("mysite_url_unknown", 500), ("file_not_found", 404)],
)
def test_drive_unavailable_is_no_drive_with_graphs_message(emulator, verify, answer, status):
    emulator.fault("drive", "answer", answer=answer)
    task_status, result = verify()
    assert task_status == "failed" and result["reason"] == "no_drive"
    assert f"HTTP {status} for /me/drive" in result["msg"] and "check_drive=false" in result["msg"]
    message = {
        "no_spo_license": "Tenant does not have a SPO license.",
        "mysite_url_unknown": "Unable to retrieve user's mysite URL.",
        "file_not_found": "404 FILE NOT FOUND",
    }[answer]
    assert result["msg"].endswith(f"Graph said: {message}")
    assert "proxy" not in result["msg"]


def test_check_drive_false_passes_an_account_whose_tenant_has_no_sharepoint(emulator, verify):
    # A drive fault that is never used: the run asks for /me alone.
    emulator.fault("drive", "answer", answer="no_spo_license")
    task_status, result = verify(check_drive=False)
    assert task_status == "ok" and result["user"]["user_principal_name"] == ADELE
    assert result.get("drive") is None
    assert emulator.pending_faults() == 1


@pytest.mark.parametrize(
    "answer, reason, says",
    [
        ("sign_in_frequency", "token_expired", "rotate_after"),
        ("sign_in_frequency_interaction", "token_expired", "Conditional Access"),
        ("spa_lifetime", "token_expired", "Mobile and desktop"),
        ("mfa_expired", "mfa_required", "interactively"),
        ("mfa_enrollment", "mfa_required", "interactively"),
        ("ca_blocked", "blocked_by_policy", "administrator"),
        ("interaction_user_password_expired", "interaction_required", "password has expired"),
        ("interaction_additional_action", "interaction_required", "authorize the connection again"),
        ("loop_detected", "throttled", "slow down"),
        ("spa_redirect", "redirect_mismatch", "Mobile and desktop applications"),
        ("grant_expired_personal", "token_invalid", "personal accounts get AADSTS70000"),
    ],
)
def test_token_endpoint_answers(emulator, verify, answer, reason, says):
    emulator.fault("token", "answer", answer=answer)
    task_status, result = verify()
    assert task_status == "failed"
    assert result["reason"] == reason and says in result["msg"]
    assert "prompt=none" not in result["msg"]
    assert "Microsoft said: AADSTS" in result["msg"]


def test_plain_text_429_is_throttled_with_retry_after(emulator, verify):
    emulator.fault("token", "non_json", status=429, retry_after="120")
    task_status, result = verify()
    assert task_status == "failed" and result["reason"] == "throttled"
    assert result["retry_after"] == 120


def test_a_batch_answered_200_with_refusals_inside_is_graph_unauthorized(emulator, verify):
    emulator.fault("batch", "answer", answer="inner_unauthorized")
    task_status, result = verify()
    assert task_status == "failed" and result["reason"] == "graph_unauthorized", result
    assert emulator.pending_faults() == 0


@pytest.mark.parametrize(
    "style",
    [
        dict(omit_offline_access=True),
        dict(extra=["Calendars.Read", "https://graph.microsoft.com/Mail.Read"]),
        dict(case="upper"),
        dict(case="lower"),
        dict(full_uris=True),
        dict(full_uris=False),
    ],
    ids=["offline_access left out", "more than asked", "upper case", "lower case", "full URIs", "short names"],
)
def test_scopes_as_the_service_writes_them_change_nothing(emulator, verify, style):
    emulator.scope_answer(**style)
    task_status, result = verify()
    assert task_status == "ok", result
    assert "reason" not in result and result["refresh_token_rotated"] is True
    granted = {scope.lower() for scope in result["granted_scopes"]}
    assert {"offline_access", "user.read", "files.read"} <= granted, result["granted_scopes"]


def test_a_personal_id_that_lost_its_leading_zeros_is_still_personal(tmp_path):
    # Graph drops leading zeros from some personal ids (PROTOCOL.md, "Answers that surprise"): a user of 13 hex
    # digits, without a drive check, is told personal by the id's shape; with one, by the drive's type.
    import yaml
    from msemu import config
    from msemu.process import EmulatorProcess

    from ansible_collections.onedrive.connection.plugins.module_utils import graph
    from ansible_collections.onedrive.connection.plugins.module_utils.endpoints import endpoints
    from ansible_collections.onedrive.connection.plugins.module_utils.transport import Transport

    raw = yaml.safe_load(config.DEFAULT_FIXTURES.read_text(encoding="utf-8"))
    short_id = "2c3d4e5f60718"
    raw["users"].append(dict(login="short@outlook.com", id=short_id, tenant="consumers", given_name="S", surname="Id",
                             drive=dict(id=short_id, type="personal", total=5368709120, used=0, deleted=0)))
    fixtures = tmp_path / "fixtures.yaml"
    fixtures.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with EmulatorProcess(tmp_path / "state", https=False, config=fixtures) as process:
        access_token = process.client.grant(PUBLIC_APP, "short@outlook.com", SCOPES)["access_token"]
        where = endpoints(login_url=process.client.base_url, graph_url=process.client.base_url)
        with Transport() as transport:
            for check_drive in (False, True):
                identity = graph.identify(transport, where, access_token, check_drive=check_drive)
                assert identity.user["id"] == short_id and identity.user["account_type"] == "personal"
