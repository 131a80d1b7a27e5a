"""Microsoft's answers as seen in the field (issue 16): Conditional Access, interaction_required from the token
endpoint, loop detection, plain-text throttling, and the many ways Graph says an account has no OneDrive.

Where each answer was seen is cited beside its emulator fixture in tests/emulator/msemu/answers.py.
"""

from __future__ import annotations

import pytest

from ansible_collections.onedrive.connection.plugins.module_utils import graph
from ansible_collections.onedrive.connection.plugins.module_utils.endpoints import endpoints
from ansible_collections.onedrive.connection.plugins.module_utils.errors import (
    OneDriveError,
    authorize_error,
    token_error,
)
from ansible_collections.onedrive.connection.plugins.module_utils.rotation import REAUTHORIZE_REASONS
from ansible_collections.onedrive.connection.plugins.module_utils.transport import Transport

REFRESH = "refresh_token"
CODE = "authorization_code"
TOKEN = "eyJ0eXAi.access-token-value.sig"


def microsoft(error, code, suberror=None, description="Whatever Microsoft says."):
    body = dict(
        error=error,
        error_description=f"AADSTS{code}: {description}\r\nTrace ID: t\r\nCorrelation ID: c\r\nTimestamp: 2025",
        error_codes=[code],
        trace_id="t",
        correlation_id="c",
    )
    if suberror:
        body["suberror"] = suberror
    return body


@pytest.mark.parametrize("error", ["invalid_grant", "interaction_required"])
@pytest.mark.parametrize("suberror", [None, "token_expired"])
def test_sign_in_frequency_expiry_is_token_expired_set_by_a_policy(error, suberror):
    failure = token_error(400, microsoft(error, 70043, suberror), grant=REFRESH)
    assert failure.reason == "token_expired"
    assert "Conditional Access" in failure.msg and "not the 90-day" in failure.msg
    assert "rotate_after" in failure.msg
    assert "prompt=none" not in failure.msg


def test_spa_refresh_token_lifetime_is_token_expired_with_the_registration_fix():
    failure = token_error(400, microsoft("invalid_grant", 700084), grant=REFRESH)
    assert failure.reason == "token_expired"
    assert "24 hours" in failure.msg and "Mobile and desktop" in failure.msg and "rotate_after" in failure.msg


@pytest.mark.parametrize("error", ["invalid_grant", "interaction_required"])
@pytest.mark.parametrize("code", [50078, 50079])
def test_mfa_expired_or_enrolment_needed_is_mfa_required(error, code):
    failure = token_error(400, microsoft(error, code, "basic_action"), grant=REFRESH)
    assert failure.reason == "mfa_required"
    assert "prompt=none" not in failure.msg


@pytest.mark.parametrize("error, suberror", [("interaction_required", "message_only"), ("invalid_grant", None)])
def test_conditional_access_block_is_its_own_reason_for_an_administrator(error, suberror):
    failure = token_error(400, microsoft(error, 53003, suberror), grant=REFRESH)
    assert failure.reason == "blocked_by_policy"
    assert "administrator" in failure.msg
    assert failure.msg.endswith("Microsoft said: AADSTS53003: Whatever Microsoft says.")
    # A new sign-in does not lift a block: the rotation must not ask for one.
    assert "blocked_by_policy" not in REAUTHORIZE_REASONS


def test_conditional_access_block_on_the_authorize_redirect():
    failure = authorize_error({"error": "interaction_required", "error_description": "AADSTS53003: Blocked."})
    assert failure.reason == "blocked_by_policy"


@pytest.mark.parametrize(
    "suberror, reason, says",
    [
        ("basic_action", "mfa_required", "interactively"),
        ("additional_action", "interaction_required", "outside this app"),
        ("message_only", "interaction_required", "message"),
        ("consent_required", "consent_required", "consent"),
        ("user_password_expired", "interaction_required", "password has expired"),
        ("bad_token", "token_invalid", "check what was stored"),
    ],
)
@pytest.mark.parametrize("error", ["invalid_grant", "interaction_required"])
def test_suberrors_map_alike_under_invalid_grant_and_interaction_required(error, suberror, reason, says):
    failure = token_error(400, microsoft(error, 99999, suberror), grant=REFRESH)
    assert (failure.reason, failure.error) == (reason, error)
    assert says in failure.msg
    assert "prompt=none" not in failure.msg


def test_interaction_required_from_the_token_endpoint_asks_for_a_new_sign_in_not_a_prompt_value():
    failure = token_error(400, microsoft("interaction_required", 99999), grant=REFRESH)
    assert failure.reason == "interaction_required"
    assert "prompt=none" not in failure.msg and "authorize the connection again" in failure.msg


@pytest.mark.parametrize(
    "error", ["invalid_grant", "interaction_required", "temporarily_unavailable", "invalid_request", "access_denied"]
)
def test_loop_detection_is_throttled_under_any_error_value(error):
    failure = token_error(400, microsoft(error, 50196), grant=REFRESH)
    assert failure.reason == "throttled" and "slow down" in failure.msg
    assert authorize_error({"error": error, "error_description": "AADSTS50196: Loop."}).reason == "throttled"


def test_plain_text_429_is_throttled_with_retry_after():
    # Microsoft's 429 from the token endpoint may be the bare text "Too Many Requests": no JSON to parse.
    failure = token_error(429, None, grant=REFRESH, retry_after=60)
    assert failure.reason == "throttled" and failure.retry_after == 60
    assert failure.result()["retry_after"] == 60


# --- Graph: /me/drive answers for an account without a usable OneDrive ---

ENDPOINTS = endpoints(graph_url="https://graph.example/")
WORK_USER = {"id": "2f1e0d9c-8b7a-4f6e-9d5c-4b3a2f1e0d9c", "userPrincipalName": "adele@contoso.onmicrosoft.com"}


def _sub(name, status=200, body=None):
    return {"id": name, "status": status, "headers": {"Content-Type": "application/json"}, "body": body}


def _graph_error(code, message):
    inner = {"date": "2025-03-01T08:30:00", "request-id": "req-1", "client-request-id": "client-1"}
    return {"error": {"code": code, "message": message, "innerError": inner}}


@pytest.fixture
def transport():
    with Transport(max_retry_wait=60, sleep=lambda seconds: None) as transport:
        yield transport


def _identify_failure(transport) -> OneDriveError:
    with pytest.raises(OneDriveError) as caught:
        graph.identify(transport, ENDPOINTS, TOKEN)
    return caught.value


@pytest.mark.parametrize(
    "status, code, message",
    [
        (400, "BadRequest", "Tenant does not have a SPO license."),
        (400, "BadRequest", "Unable to retrieve user's mysite URL."),
        (500, "UnknownError", "Unable to retrieve user's mysite URL."),
        (404, "itemNotFound", "404 FILE NOT FOUND"),
        (404, "itemNotFound", "Item not found"),
        (404, "ResourceNotFound", "User's mysite not found."),
    ],
)
def test_every_known_answer_for_a_missing_drive_is_no_drive(fake_http, transport, status, code, message):
    drive = _sub("drive", status, _graph_error(code, message))
    fake_http.answer(200, {"responses": [_sub("me", body=WORK_USER), drive]})
    failure = _identify_failure(transport)
    assert failure.reason == "no_drive"
    assert failure.msg.endswith(f"Graph said: {message}")
    assert "check_drive=false" in failure.msg and "graph_url" not in failure.msg and "proxy" not in failure.msg
    assert failure.error == code and failure.trace_id == "req-1"
    assert failure.reason not in REAUTHORIZE_REASONS


@pytest.mark.parametrize(
    "status, code, message, reason",
    [
        (400, "BadRequest", "Invalid request.", "unexpected_response"),
        (500, "generalException", "General exception while processing.", "server_error"),
    ],
)
def test_other_drive_failures_keep_their_own_reason(fake_http, transport, status, code, message, reason):
    drive = _sub("drive", status, _graph_error(code, message))
    fake_http.answer(200, {"responses": [_sub("me", body=WORK_USER), drive]})
    assert _identify_failure(transport).reason == reason


def test_a_mysite_text_on_me_is_not_a_missing_drive(fake_http, transport):
    body = _graph_error("BadRequest", "Unable to retrieve user's mysite URL.")
    fake_http.answer(200, {"responses": [_sub("me", 400, body), _sub("drive", body=WORK_USER)]})
    assert _identify_failure(transport).reason == "unexpected_response"


def test_check_drive_false_passes_an_account_without_drive(fake_http, transport):
    fake_http.answer(200, {"responses": [_sub("me", body=WORK_USER)]})
    identity = graph.identify(transport, ENDPOINTS, TOKEN, check_drive=False)
    assert identity.drive is None and identity.user["id"] == WORK_USER["id"]


@pytest.mark.parametrize("grant", [CODE, REFRESH])
def test_a_single_page_app_redirect_says_to_register_it_for_mobile_and_desktop(grant):
    failure = token_error(400, microsoft("invalid_request", 9002327), grant=grant)
    assert failure.reason == "redirect_mismatch" and "Mobile and desktop applications" in failure.msg


@pytest.mark.parametrize("scopes_sent", [False, True])
def test_aadsts70000_on_a_refresh_asks_for_a_new_sign_in_and_names_scopes_only_when_some_were_asked(scopes_sent):
    failure = token_error(400, microsoft("invalid_grant", 70000), grant=REFRESH, scopes_sent=scopes_sent)
    assert failure.reason == "token_invalid" and "authorize the connection again" in failure.msg
    assert ("A scope outside what was consented" in failure.msg) is scopes_sent


@pytest.mark.parametrize(
    "user_id, drive_type, tenant_id, expected",
    [
        # The drive decides first, whatever the id looks like.
        ("2f1e0d9c-8b7a-4f6e-9d5c-4b3a2f1e0d9c", "personal", None, "personal"),
        ("a1b2c3d4e5f60718", "business", None, "work"),
        ("a1b2c3d4e5f60718", "documentLibrary", None, "work"),
        # Then the tenant: personal accounts live in one of their own.
        ("2f1e0d9c-8b7a-4f6e-9d5c-4b3a2f1e0d9c", None, "9188040D-6C67-4C5B-B112-36A304B66DAD", "personal"),
        ("a1b2c3d4e5f60718", None, "72f988bf-86f1-41af-91ab-2d7cd011db47", "work"),
        # Only then the id: 16 hex digits, or fewer where Graph dropped leading zeros.
        ("a1b2c3d4e5f60718", None, None, "personal"),
        ("2c3d4e5f60718", None, None, "personal"),
        ("2f1e0d9c-8b7a-4f6e-9d5c-4b3a2f1e0d9c", None, None, "work"),
    ],
)
def test_account_type_comes_from_the_drive_then_the_tenant_then_the_id(user_id, drive_type, tenant_id, expected):
    from ansible_collections.onedrive.connection.plugins.module_utils.graph import account_type

    assert account_type(user_id, drive_type, tenant_id) == expected
