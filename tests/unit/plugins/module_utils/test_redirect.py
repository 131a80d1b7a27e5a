from __future__ import annotations

import pytest

from ansible_collections.onedrive.connection.plugins.module_utils.errors import OneDriveError
from ansible_collections.onedrive.connection.plugins.module_utils.redirect import (
    NATIVE_CLIENT,
    code_from_response,
    parse_response,
    validate_redirect_uri,
)

CODE = "M.C507_BAY.2.U.1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d"
STATE = "Hq3vN0C1y2kXl1r8yCcTz7m5Lrj1ZbX2Q4h8sTgWw0E"
SESSION = "session_state=8c2a9f4e-6b1d-4f3a-9e2c-7d5b0a1c3e22"
ERROR_DESCRIPTION = (
    "AADSTS65004%3a+User+declined+to+consent+to+access+the+app.%0d%0a"
    "Trace+ID%3a+0f2c4a1e-9b8d-4c7e-8f6a-5b4c3d2e1f00%0d%0a"
    "Correlation+ID%3a+7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d%0d%0a"
    "Timestamp%3a+2025-01-01+10%3a00%3a00Z"
)
ACCESS_DENIED = (
    f"{NATIVE_CLIENT}?error=access_denied&error_description={ERROR_DESCRIPTION}"
    f"&error_uri=https%3a%2f%2flogin.microsoftonline.com%2ferror%3fcode%3d65004&state={STATE}"
)

SHAPES = {
    "address bar": f"{NATIVE_CLIENT}?code={CODE}&state={STATE}&{SESSION}",
    "RFC 9207 iss and client_info": (
        f"{NATIVE_CLIENT}?code={CODE}&state={STATE}&iss=https%3A%2F%2Flogin.microsoftonline.com%2F"
        f"9188040d-6c67-4c5b-b112-36a304b66dad%2Fv2.0&client_info=eyJ1aWQiOiIxIn0&{SESSION}"
    ),
    "loopback with trailing slash and port": f"http://localhost:53682/?code={CODE}&state={STATE}",
    "fragment mode": f"{NATIVE_CLIENT}#code={CODE}&state={STATE}&{SESSION}",
    "query string": f"code={CODE}&state={STATE}&{SESSION}",
    "query string with question mark": f"?code={CODE}&state={STATE}",
    "fragment alone": f"#state={STATE}&code={CODE}",
    "form_post body": f"code={CODE}&state={STATE}&{SESSION}",
    "surrounding whitespace": f"\n\t  {NATIVE_CLIENT}?code={CODE}&state={STATE}  \r\n",
    "percent-encoded code": f"{NATIVE_CLIENT}?code={CODE.replace('.', '%2E')}&state={STATE}",
}


@pytest.mark.parametrize("pasted", SHAPES.values(), ids=SHAPES.keys())
def test_every_shape_gives_the_code(pasted):
    assert code_from_response(pasted, STATE) == CODE
    assert code_from_response(pasted) == CODE


def test_parse_response_decodes_values():
    params = parse_response(ACCESS_DENIED)
    assert params["error"] == "access_denied"
    assert params["error_description"].startswith("AADSTS65004: User declined to consent to access the app.\r\n")
    assert params["state"] == STATE


@pytest.mark.parametrize("state", [STATE + "x", "", "other"])
def test_state_mismatch(state):
    with pytest.raises(OneDriveError) as raised:
        code_from_response(SHAPES["address bar"], state)
    assert raised.value.reason == "state_mismatch"
    assert CODE not in raised.value.msg


def test_missing_state_is_a_mismatch_when_one_is_expected():
    with pytest.raises(OneDriveError, match="state"):
        code_from_response(f"code={CODE}", STATE)


def test_state_is_checked_before_trusting_an_error_response():
    with pytest.raises(OneDriveError) as raised:
        code_from_response(ACCESS_DENIED, "another-sign-in")
    assert raised.value.reason == "state_mismatch"


def test_error_redirect_fails_with_the_decoded_description_and_ids():
    with pytest.raises(OneDriveError) as raised:
        code_from_response(ACCESS_DENIED, STATE)
    error = raised.value
    assert error.reason == "access_denied"
    assert error.error == "access_denied"
    assert error.error_codes == [65004]
    assert error.trace_id == "0f2c4a1e-9b8d-4c7e-8f6a-5b4c3d2e1f00"
    assert error.correlation_id == "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"
    assert "AADSTS65004: User declined to consent to access the app." in error.msg
    assert "Trace ID" not in error.msg and "\r" not in error.msg


@pytest.mark.parametrize(
    "error, reason",
    [
        ("consent_required", "consent_required"),
        ("interaction_required", "interaction_required"),
        ("login_required", "interaction_required"),
        ("invalid_scope", "invalid_scope"),
        ("unauthorized_client", "app_not_found"),
        ("server_error", "server_error"),
        ("temporarily_unavailable", "server_error"),
        ("invalid_request", "invalid_request"),
        ("unsupported_response_type", "invalid_request"),
        ("invalid_resource", "invalid_scope"),
    ],
)
def test_error_redirect_reasons(error, reason):
    with pytest.raises(OneDriveError) as raised:
        code_from_response(f"error={error}&error_description=AADSTS50000%3a+Something")
    assert raised.value.reason == reason
    assert raised.value.error_codes == [50000]


@pytest.mark.parametrize("pasted", ["", "   ", NATIVE_CLIENT, f"{NATIVE_CLIENT}?state={STATE}", "code=", CODE])
def test_response_without_code(pasted):
    with pytest.raises(OneDriveError, match="holds no code") as raised:
        code_from_response(pasted)
    assert raised.value.reason == "invalid_option"


@pytest.mark.parametrize(
    "uri",
    [
        NATIVE_CLIENT,
        "https://app.example/callback?tenant=x",
        "http://localhost",
        "http://localhost:53682/",
        "http://127.0.0.1:8400/callback",
        "https://a.example/" + "p" * 238,
    ],
)
def test_valid_redirect_uris(uri):
    assert validate_redirect_uri(uri) == uri


@pytest.mark.parametrize(
    "uri",
    [
        "http://app.example/callback",
        "http://[::1]:8400/",
        "http://localhost.evil.example/",
        "ms-app://callback",
        "https://",
        "localhost",
        "https://app.example/callback#frag",
        "https://app.example/call back",
        "https://app.example:x/",
        "http://[::1",
        "https://a.example/" + "p" * 239,
    ],
)
def test_invalid_redirect_uris(uri):
    with pytest.raises(OneDriveError, match="redirect_uri must be") as raised:
        validate_redirect_uri(uri)
    assert raised.value.reason == "invalid_option"
