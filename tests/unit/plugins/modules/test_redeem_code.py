from __future__ import annotations

import json
import re

import pytest

from ansible_collections.onedrive.connection.plugins.modules.redeem_code import main

CLIENT_ID = "3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11"
NATIVE = "https://login.microsoftonline.com/common/oauth2/nativeclient"
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CODE = "M.C507_BAY.2.U.code-value"
TOKENS = dict(
    token_type="Bearer",
    scope="https://graph.microsoft.com/Files.Read https://graph.microsoft.com/User.Read",
    expires_in=4000,
    access_token="access-token-value",
    refresh_token="refresh-token-value",
)


def args(**extra):
    return dict(client_id=CLIENT_ID, code_verifier=VERIFIER, **extra)


def test_redeems_a_pasted_address(run_module, fake_http):
    fake_http.answer(200, TOKENS)
    result = run_module(main, args(response_url=f" {NATIVE}?code={CODE}&state=s1&session_state=x\n", state="s1"))
    assert result["changed"] is True
    assert (result["refresh_token"], result["access_token"]) == ("refresh-token-value", "access-token-value")
    assert result["granted_scopes"] == ["Files.Read", "User.Read"]
    assert (result["expires_in"], result["token_type"], result["tenant_id"]) == (4000, "Bearer", None)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", result["access_token_expires_at"])
    assert fake_http.requests[0]["data"] == dict(
        grant_type="authorization_code",
        code=CODE,
        redirect_uri=NATIVE,
        code_verifier=VERIFIER,
        client_id=CLIENT_ID,
    )


def test_redeems_a_bare_code_with_scopes_and_secret(run_module, fake_http):
    fake_http.answer(200, TOKENS)
    run_module(
        main,
        dict(
            client_id=CLIENT_ID,
            client_secret="secret-value",
            redirect_uri="http://localhost/callback",
            code=f"  {CODE} ",
            scopes=["offline_access Files.Read"],
            login_url="https://127.0.0.1:8443/",
            tenant="contoso.onmicrosoft.com",
        ),
    )
    sent = fake_http.requests[0]
    assert sent["url"] == "https://127.0.0.1:8443/contoso.onmicrosoft.com/oauth2/v2.0/token"
    assert sent["data"] == dict(
        grant_type="authorization_code",
        code=CODE,
        redirect_uri="http://localhost/callback",
        client_id=CLIENT_ID,
        scope="offline_access Files.Read",
        client_secret="secret-value",
    )


def test_check_mode_does_not_redeem(run_module, fake_http):
    result = run_module(main, args(response_url=f"{NATIVE}?code={CODE}&state=s1", state="s1"), check_mode=True)
    assert result["changed"] is True and "not redeemed" in result["msg"]
    assert "refresh_token" not in result and fake_http.requests == []


def test_check_mode_still_checks_the_state(run_module, fake_http):
    result = run_module(main, args(response_url=f"{NATIVE}?code={CODE}&state=s1", state="s2"), check_mode=True)
    assert result["failed"] is True and result["reason"] == "state_mismatch"


def test_error_redirect_fails_without_a_token_request(run_module, fake_http):
    pasted = f"{NATIVE}?error=access_denied&error_description=AADSTS65004%3a+User+declined+to+consent.&state=s1"
    result = run_module(main, args(response_url=pasted, state="s1"))
    assert result["failed"] is True and result["reason"] == "access_denied"
    assert result["error_codes"] == [65004] and "User declined to consent" in result["msg"]
    assert fake_http.requests == []


def test_state_with_a_bare_code_warns(run_module, fake_http):
    fake_http.answer(200, TOKENS)
    result = run_module(main, args(code=CODE, state="s1"))
    assert "state is checked only against response_url" in json.dumps(result["warnings"])


def test_service_errors_fail_with_every_stable_field_and_no_secret(run_module, fake_http):
    fake_http.answer(
        400,
        dict(
            error="invalid_grant",
            error_description=f"AADSTS54005: OAuth2 Authorization code was already redeemed: {CODE}.\r\nTrace ID: t",
            error_codes=[54005],
            trace_id="trace",
            correlation_id="correlation",
        ),
    )
    result = run_module(main, args(code=CODE, client_secret="secret-value"))
    assert {key: result[key] for key in ("reason", "error", "error_codes", "trace_id", "correlation_id")} == dict(
        reason="code_redeemed",
        error="invalid_grant",
        error_codes=[54005],
        trace_id="trace",
        correlation_id="correlation",
    )
    assert result["msg"].startswith("The code was already used; sign in again to get a new one.")
    output = json.dumps(result)
    assert CODE not in output and VERIFIER not in output and "secret-value" not in output


def test_no_refresh_token(run_module, fake_http):
    fake_http.answer(200, {key: value for key, value in TOKENS.items() if key != "refresh_token"})
    result = run_module(main, args(code=CODE))
    assert result["reason"] == "missing_scope" and "offline_access" in result["msg"]
    assert "access-token-value" not in json.dumps(result)


@pytest.mark.parametrize(
    "extra, words",
    [
        (dict(code=CODE, response_url=f"code={CODE}"), "mutually exclusive"),
        (dict(), "one of the following is required: code, response_url"),
        (dict(code="  "), "code must not be empty"),
        (dict(code=CODE, code_verifier="short"), "code_verifier must be"),
        (dict(code=CODE, redirect_uri="http://app.example/"), "redirect_uri must be"),
        (dict(code=CODE, scopes=['Files"Read']), "scopes must be"),
        (dict(code=CODE, tenant="a/b"), "tenant must be"),
        (dict(code=CODE, timeout=0), "timeout must be a positive number"),
        (dict(response_url="state=x"), "holds no code"),
    ],
)
def test_invalid_options(run_module, fake_http, extra, words):
    result = run_module(main, dict(dict(client_id=CLIENT_ID, code_verifier=VERIFIER), **extra))
    assert result["failed"] is True and words in result["msg"]
    assert CODE not in json.dumps(result) and fake_http.requests == []


def test_missing_requests_gives_missing_required_lib(run_module, fake_http, monkeypatch):
    from ansible_collections.onedrive.connection.plugins.module_utils import common

    monkeypatch.setattr(common, "HAS_REQUESTS", False)
    monkeypatch.setattr(common, "REQUESTS_IMPORT_ERROR", "Traceback: No module named 'requests'")
    result = run_module(main, args(code=CODE))
    assert result["failed"] is True and "requests" in result["msg"] and "required" in result["msg"]
    assert fake_http.requests == []
