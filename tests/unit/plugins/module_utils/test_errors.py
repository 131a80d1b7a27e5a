from __future__ import annotations

import pytest

from ansible_collections.onedrive.connection.plugins.module_utils.errors import (
    OneDriveError,
    status_error,
    token_error,
)

TRACE = "0f2c4a1e-9b8d-4c7e-8f6a-5b4c3d2e1f00"
CORRELATION = "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"
CODE_GRANT = "authorization_code"
REFRESH_GRANT = "refresh_token"


def microsoft(error, codes, description="", **extra):
    """A token endpoint error body shaped like Microsoft's."""
    return dict(
        error=error,
        error_description=f"{description}\r\nTrace ID: {TRACE}\r\nCorrelation ID: {CORRELATION}\r\nTimestamp: 2025",
        error_codes=codes,
        timestamp="2025-01-01 10:00:00Z",
        trace_id=TRACE,
        correlation_id=CORRELATION,
        error_uri="https://login.microsoftonline.com/error?code=1",
        **extra,
    )


# Every row of PROTOCOL.md's token endpoint table, for the grant it happens with.
TABLE = [
    (400, "invalid_grant", 54005, {}, CODE_GRANT, "code_redeemed", "already used"),
    (400, "invalid_grant", 70008, {}, CODE_GRANT, "code_expired", "sign in again"),
    (400, "invalid_grant", 70008, {}, REFRESH_GRANT, "token_expired", "authorize the connection again"),
    (400, "invalid_grant", 50148, {}, CODE_GRANT, "pkce_mismatch", "code_verifier"),
    (400, "invalid_grant", 501481, {}, CODE_GRANT, "pkce_mismatch", "code_verifier"),
    (400, "invalid_grant", 700082, {}, REFRESH_GRANT, "token_expired", "90 days"),
    (400, "invalid_grant", 50173, {}, REFRESH_GRANT, "token_revoked", "authorize the connection again"),
    (400, "invalid_grant", 70000, {}, REFRESH_GRANT, "token_invalid", "its grant has expired or was withdrawn"),
    (400, "invalid_grant", 9002313, {}, REFRESH_GRANT, "token_invalid", "check what was stored"),
    (400, "invalid_grant", 65001, dict(suberror="consent_required"), REFRESH_GRANT, "consent_required", "consent"),
    (400, "invalid_grant", 65001, dict(suberror="consent_required"), CODE_GRANT, "consent_required", "consent"),
    (400, "invalid_grant", 50076, dict(suberror="basic_action"), REFRESH_GRANT, "mfa_required", "interactively"),
    (400, "invalid_grant", 50079, dict(suberror="basic_action"), REFRESH_GRANT, "mfa_required", "interactively"),
    (400, "invalid_grant", 50196, {}, REFRESH_GRANT, "throttled", "slow down"),
    (400, "invalid_request", 900144, {}, CODE_GRANT, "invalid_request", "bug"),
    (400, "invalid_scope", 70011, {}, CODE_GRANT, "invalid_scope", "fix the scopes"),
    (400, "unauthorized_client", 700016, {}, CODE_GRANT, "app_not_found", "check client_id, tenant and cloud"),
    (401, "invalid_client", 7000218, {}, CODE_GRANT, "client_secret_required", "Allow public client flows"),
    (401, "invalid_client", 7000215, {}, REFRESH_GRANT, "invalid_client", "secret's value"),
    (401, "invalid_client", 7000222, {}, REFRESH_GRANT, "invalid_client", "expired"),
    (400, "invalid_client", 700025, {}, CODE_GRANT, "invalid_client", "remove client_secret"),
    (400, "invalid_grant", 500112, {}, CODE_GRANT, "redirect_mismatch", "same redirect_uri"),
    (400, "invalid_request", 50194, {}, CODE_GRANT, "app_not_found", "set tenant"),
    (400, "invalid_request", 90002, {}, CODE_GRANT, "tenant_not_found", "check tenant and cloud"),
]


@pytest.mark.parametrize("status, error, code, extra, grant, reason, advice", TABLE)
def test_token_table(status, error, code, extra, grant, reason, advice):
    failure = token_error(
        status, microsoft(error, [code], f"AADSTS{code}: Whatever Microsoft says.", **extra), grant=grant
    )
    assert failure.reason == reason
    assert advice in failure.msg
    assert failure.error == error
    assert failure.error_codes == [code]
    assert failure.trace_id == TRACE and failure.correlation_id == CORRELATION
    assert failure.msg.endswith(f"Microsoft said: AADSTS{code}: Whatever Microsoft says.")


@pytest.mark.parametrize(
    "error, grant, suberror, reason",
    [
        ("invalid_grant", CODE_GRANT, None, "code_invalid"),
        ("invalid_grant", REFRESH_GRANT, None, "token_invalid"),
        ("invalid_grant", REFRESH_GRANT, "consent_required", "consent_required"),
        ("invalid_grant", REFRESH_GRANT, "basic_action", "mfa_required"),
        ("invalid_grant", REFRESH_GRANT, "bad_token", "token_invalid"),
        ("invalid_client", CODE_GRANT, None, "invalid_client"),
        ("unauthorized_client", CODE_GRANT, None, "app_not_found"),
        ("invalid_scope", CODE_GRANT, None, "invalid_scope"),
        ("invalid_request", CODE_GRANT, None, "invalid_request"),
        ("invalid_tenant", CODE_GRANT, None, "tenant_not_found"),
        ("interaction_required", REFRESH_GRANT, None, "interaction_required"),
        ("unsupported_grant_type", CODE_GRANT, None, "invalid_request"),
    ],
)
def test_unknown_numbers_fall_back_to_the_error_family(error, grant, suberror, reason):
    extra = {"suberror": suberror} if suberror else {}
    assert token_error(400, microsoft(error, [99999999], **extra), grant=grant).reason == reason


def test_numbers_only_refine_within_their_family():
    # 54005 means "code redeemed" only as an invalid_grant; under another error it must not say so.
    assert token_error(400, microsoft("invalid_scope", [54005]), grant=CODE_GRANT).reason == "invalid_scope"
    assert token_error(400, microsoft("invalid_grant", [54005]), grant=REFRESH_GRANT).reason == "token_invalid"


def test_a_known_number_anywhere_in_the_list_refines():
    failure = token_error(400, microsoft("invalid_grant", [16000, 54005]), grant=CODE_GRANT)
    assert failure.reason == "code_redeemed"


def test_echoed_secrets_are_redacted_from_the_description():
    body = microsoft("invalid_grant", [9002313], "AADSTS9002313: Invalid request. Token sekrit-token is malformed.")
    failure = token_error(400, body, grant=REFRESH_GRANT, secrets=("sekrit-token", None, ""))
    assert "sekrit-token" not in failure.msg
    assert "Token ******** is malformed." in failure.msg


@pytest.mark.parametrize(
    "status, payload, retry_after, reason",
    [
        (429, None, 12.5, "throttled"),
        (429, microsoft("temporarily_unavailable", [50196]), None, "throttled"),
        (503, None, 30, "throttled"),
        (504, None, 0.5, "throttled"),
        (503, microsoft("temporarily_unavailable", [90006]), None, "server_error"),
        (500, microsoft("server_error", [90000]), None, "server_error"),
        (502, None, None, "server_error"),
        (400, None, None, "unexpected_response"),
        (404, {"not": "oauth"}, None, "unexpected_response"),
        (401, [], None, "unexpected_response"),
    ],
)
def test_statuses(status, payload, retry_after, reason):
    failure = token_error(status, payload, grant=CODE_GRANT, retry_after=retry_after)
    assert failure.reason == reason
    assert failure.retry_after == retry_after
    assert f"HTTP {status}" in failure.msg


def test_throttled_names_the_wait_and_keeps_the_ids():
    failure = token_error(429, microsoft("temporarily_unavailable", [50196]), grant=REFRESH_GRANT, retry_after=120)
    assert "asked to wait 120 s" in failure.msg and "max_retry_wait" in failure.msg
    assert failure.trace_id == TRACE and failure.error_codes == [50196]
    assert failure.result()["retry_after"] == 120


def test_status_error_leaves_client_errors_to_the_caller():
    assert status_error(401) is None
    assert status_error(403) is None
    assert status_error(404) is None


def test_malformed_fields_are_ignored():
    body = dict(error="invalid_grant", error_codes=["54005", True, 54005.0], trace_id=7, error_description=None)
    failure = token_error(400, body, grant=CODE_GRANT)
    assert failure.reason == "code_invalid"
    assert failure.error_codes == [] and failure.trace_id is None
    assert "Microsoft said" not in failure.msg


def test_result_has_every_stable_field():
    assert OneDriveError("m", "network").result() == dict(
        msg="m", reason="network", error=None, error_codes=[], trace_id=None, correlation_id=None
    )
