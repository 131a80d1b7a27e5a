"""onedrive.connection.verify: real ansible-playbook runs against the emulator."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

PLAYBOOKS = pathlib.Path(__file__).parent / "playbooks" / "verify"
PUBLIC_APP = "3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11"
CONFIDENTIAL_APP = "8c2a9f4e-6b1d-4f3a-9e2c-7d5b0a1c3e22"
CONFIDENTIAL_SECRET = "emu-secret-8c2a9f4e-value"
CONSUMER_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"
ONEDRIVE_SCOPES = ["offline_access", "User.Read", "Files.Read"]
DAY = 86400


@pytest.fixture
def verify(ansible_run, emulator):
    """Runs verify.yml with the emulator's URL and CA; returns (Verify task status, Report) and keeps the run."""

    def run(check=False, verbosity=0, client_id=PUBLIC_APP, **variables):
        variables = dict(
            emulator_url=emulator.base_url, ca_path=str(emulator.ca_path), client_id=client_id, **variables
        )
        result = ansible_run(str(PLAYBOOKS / "verify.yml"), extra_vars=variables, check=check, verbosity=verbosity)
        run.last = result
        assert result.rc == 0, result.output
        status = next(task["status"] for task in result.tasks if task["name"] == "Verify")
        return status, result.task("Report")["msg"]

    return run


def grant(emulator, user, scopes=ONEDRIVE_SCOPES, client_id=PUBLIC_APP):
    return emulator.grant(client_id, user, scopes)


def test_work_account_with_business_drive(emulator, verify):
    tokens = grant(emulator, "adele@contoso.onmicrosoft.com")
    status, report = verify(refresh_token=tokens["refresh_token"])
    result = report["result"]
    assert status == "ok" and result["changed"] is False
    assert result["user"]["user_principal_name"] == "adele@contoso.onmicrosoft.com"
    assert result["user"]["account_type"] == "work" and result["user"]["mail"]
    assert result["drive"]["drive_type"] == "business"
    assert result["drive"]["owner"]["id"] == result["user"]["id"]
    assert result["drive"]["quota"]["state"] == "normal"
    assert set(result["drive"]["quota"]) == {"total", "used", "remaining", "deleted", "state"}
    assert {"offline_access", "User.Read", "Files.Read"} <= set(result["granted_scopes"])
    assert result["refresh_token_rotated"] is True and report["refresh_token_is_new"] is True
    assert report["access_token_returned"] is True
    assert result["verified_at"].endswith("Z") and result["access_token_expires_at"].endswith("Z")


def test_work_account_of_another_tenant_with_a_confidential_app(emulator, verify):
    tokens = grant(emulator, "alex@fabrikam.onmicrosoft.com", client_id=CONFIDENTIAL_APP)
    _, report = verify(
        client_id=CONFIDENTIAL_APP, client_secret=CONFIDENTIAL_SECRET, refresh_token=tokens["refresh_token"]
    )
    assert report["result"]["user"]["user_principal_name"] == "alex@fabrikam.onmicrosoft.com"
    assert report["result"]["drive"]["quota"]["state"] == "nearing"


def test_personal_account_with_personal_drive(emulator, verify):
    tokens = grant(emulator, "megan@outlook.com")
    status, report = verify(refresh_token=tokens["refresh_token"])
    result = report["result"]
    assert status == "ok"
    assert result["user"]["account_type"] == "personal" and result["user"]["mail"] is None
    assert len(result["user"]["id"]) == 16
    assert result["drive"]["drive_type"] == "personal"
    assert result["tenant_id"] == CONSUMER_TENANT


def test_one_verification_costs_two_requests(emulator, verify):
    tokens = grant(emulator, "adele@contoso.onmicrosoft.com")
    emulator.clear_log()
    verify(refresh_token=tokens["refresh_token"])
    requests = emulator.log()["requests"]
    assert [(request["method"], request["endpoint"], request["status"]) for request in requests] == [
        ("POST", "token", 200),
        ("POST", "batch", 200),
    ]


@pytest.mark.parametrize("scopes", [ONEDRIVE_SCOPES, ["offline_access", "User.Read"]], ids=["ok", "failed"])
def test_no_token_in_any_output(emulator, verify, scopes):
    tokens = grant(emulator, "adele@contoso.onmicrosoft.com", scopes=scopes)
    verify(refresh_token=tokens["refresh_token"], verbosity=4)
    run = verify.last
    texts = [run.output, json.dumps(run.tasks)]
    texts += [path.read_text(errors="replace") for path in run.tmp_dir.rglob("*") if path.is_file()]
    secrets = emulator.issued()
    assert tokens["refresh_token"] in secrets
    for secret in secrets:
        assert not any(secret in text for text in texts)


def test_access_token_asks_graph_only(emulator, verify):
    tokens = grant(emulator, "adele@contoso.onmicrosoft.com")
    emulator.clear_log()
    status, report = verify(access_token=tokens["access_token"])
    assert status == "ok"
    assert report["result"]["user"]["user_principal_name"] == "adele@contoso.onmicrosoft.com"
    assert report["result"]["refresh_token_rotated"] is False and "granted_scopes" not in report["result"]
    assert [request["endpoint"] for request in emulator.log()["requests"]] == ["batch"]


def test_token_without_files_scope_fails_before_graph(emulator, verify):
    tokens = grant(emulator, "adele@contoso.onmicrosoft.com", scopes=["offline_access", "User.Read"])
    emulator.clear_log()
    status, report = verify(refresh_token=tokens["refresh_token"])
    result = report["result"]
    assert status == "failed" and result["reason"] == "missing_scope"
    assert "Files.Read" in result["msg"]
    # The refresh already rotated the token: the failure hands over the new one to store.
    assert result["refresh_token_rotated"] is True and report["refresh_token_is_new"] is True
    assert [request["endpoint"] for request in emulator.log()["requests"]] == ["token"]


@pytest.mark.parametrize("token", ["refresh_token", "access_token"])
def test_graph_403_names_the_files_scope(emulator, verify, token):
    tokens = grant(emulator, "adele@contoso.onmicrosoft.com", scopes=["offline_access", "User.Read"])
    status, report = verify(**{token: tokens[token]}, required_scopes=["User.Read"])
    result = report["result"]
    assert status == "failed" and result["reason"] == "missing_scope"
    assert "Files.Read" in result["msg"] and "HTTP 403" in result["msg"]
    assert result["error"] == "accessDenied" and result["trace_id"]


def test_user_without_drive(emulator, verify):
    tokens = grant(emulator, "nodrive@contoso.onmicrosoft.com")
    status, report = verify(refresh_token=tokens["refresh_token"])
    assert status == "failed" and report["result"]["reason"] == "no_drive"
    assert "check_drive=false" in report["result"]["msg"]
    assert report["refresh_token_is_new"] is True


def test_user_without_drive_verifies_without_the_drive_check(emulator, verify):
    tokens = grant(emulator, "nodrive@contoso.onmicrosoft.com")
    status, report = verify(refresh_token=tokens["refresh_token"], check_drive=False)
    assert status == "ok" and report["result"]["drive"] is None
    assert report["result"]["user"]["user_principal_name"] == "nodrive@contoso.onmicrosoft.com"


def test_expired_refresh_token(emulator, verify):
    tokens = grant(emulator, "adele@contoso.onmicrosoft.com")
    emulator.advance_clock(91 * DAY)
    status, report = verify(refresh_token=tokens["refresh_token"])
    result = report["result"]
    assert status == "failed" and result["reason"] == "token_expired"
    assert "authorize the connection again" in result["msg"] and 700082 in result["error_codes"]
    assert result["refresh_token_rotated"] is False and report["refresh_token_is_new"] is False


def test_revoked_refresh_token(emulator, verify):
    tokens = grant(emulator, "adele@contoso.onmicrosoft.com")
    emulator.revoke("adele@contoso.onmicrosoft.com")
    status, report = verify(refresh_token=tokens["refresh_token"])
    assert status == "failed" and report["result"]["reason"] == "token_revoked"
    assert "authorize the connection again" in report["result"]["msg"]


def test_garbage_refresh_token(verify):
    status, report = verify(refresh_token="this-is-not-a-refresh-token")
    assert status == "failed" and report["result"]["reason"] == "token_invalid"
    assert "this-is-not-a-refresh-token" not in verify.last.output


def test_mfa_required(emulator, verify):
    tokens = grant(emulator, "mfa@contoso.onmicrosoft.com")
    status, report = verify(refresh_token=tokens["refresh_token"])
    assert status == "failed" and report["result"]["reason"] == "mfa_required"


def test_reusing_a_rotated_out_token_under_strict_rotation(emulator, ansible_run):
    emulator.strict(True)
    tokens = grant(emulator, "adele@contoso.onmicrosoft.com")
    variables = dict(
        emulator_url=emulator.base_url,
        ca_path=str(emulator.ca_path),
        client_id=PUBLIC_APP,
        refresh_token=tokens["refresh_token"],
    )
    run = ansible_run(str(PLAYBOOKS / "strict_rotation.yml"), extra_vars=variables)
    assert run.rc == 0, run.output
    report = run.task("Report")["msg"]
    assert report["first_rotated"] is True
    assert report["reused"]["failed"] is True and report["reused"]["reason"] == "token_revoked"
    assert "authorize the connection again" in report["reused"]["msg"]
    # The server revoked the whole grant, so even the newest token is gone: why it must be stored at once.
    assert report["newest"]["reason"] == "token_revoked"


def test_expired_access_token_is_graph_unauthorized(emulator, verify):
    tokens = grant(emulator, "adele@contoso.onmicrosoft.com")
    emulator.advance_clock(2 * 3600)
    status, report = verify(access_token=tokens["access_token"])
    result = report["result"]
    assert status == "failed" and result["reason"] == "graph_unauthorized"
    assert result["error"] == "InvalidAuthenticationToken"


@pytest.mark.parametrize("endpoint", ["token", "batch", "drive"])
def test_throttling_that_clears_within_the_bound(emulator, verify, endpoint):
    tokens = grant(emulator, "adele@contoso.onmicrosoft.com")
    emulator.clear_log()
    emulator.fault(endpoint, "status", count=1, status=429, retry_after="0.5")
    status, report = verify(refresh_token=tokens["refresh_token"])
    assert status == "ok" and report["result"]["drive"]["drive_type"] == "business"
    counts = emulator.log()["counts"]
    assert counts.get("token") == (2 if endpoint == "token" else 1)
    assert counts.get("batch") == (1 if endpoint == "token" else 2)


@pytest.mark.parametrize("endpoint, status", [("drive", 429), ("me", 503), ("batch", 429)])
def test_throttling_that_does_not_clear(emulator, verify, endpoint, status):
    tokens = grant(emulator, "adele@contoso.onmicrosoft.com")
    emulator.fault(endpoint, "status", count=10, status=status, retry_after=120)
    task_status, report = verify(refresh_token=tokens["refresh_token"], max_retry_wait=5)
    result = report["result"]
    assert task_status == "failed" and result["reason"] == "throttled"
    assert result["retry_after"] == 120 and "120 s" in result["msg"]
    assert report["refresh_token_is_new"] is True


def test_check_mode_with_refresh_token_skips_and_keeps_the_token_usable(emulator, verify):
    emulator.strict(True)
    tokens = grant(emulator, "adele@contoso.onmicrosoft.com")
    emulator.clear_log()
    status, report = verify(refresh_token=tokens["refresh_token"], check=True)
    assert status == "skipped" and "Check mode" in report["result"]["msg"]
    assert report["result"]["refresh_token_rotated"] is False and report["refresh_token_is_new"] is False
    assert emulator.log()["requests"] == []
    # The stored token was not rotated behind the caller's back: it still works, even under strict rotation.
    status, _ = verify(refresh_token=tokens["refresh_token"])
    assert status == "ok"


def test_check_mode_with_access_token_verifies(emulator, verify):
    tokens = grant(emulator, "megan@outlook.com")
    status, report = verify(access_token=tokens["access_token"], check=True)
    assert status == "ok" and report["result"]["user"]["account_type"] == "personal"


def test_exactly_one_token_is_required(verify):
    status, report = verify()
    assert status == "failed" and "one of the following is required" in report["result"]["msg"]


def test_ansible_doc_renders_fully():
    bin_dir = pathlib.Path(sys.executable).parent
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(pathlib.Path(__file__).parents[2] / ".build" / "collections"))
    shown = subprocess.run(
        [str(bin_dir / "ansible-doc"), "-t", "module", "onedrive.connection.verify"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert shown.returncode == 0 and not shown.stderr, shown.stderr
    for part in ("refresh_token_rotated", "required_scopes", "EXAMPLES", "RETURN VALUES", "no_log=true"):
        assert part in shown.stdout
