from __future__ import annotations

import datetime

import pytest

from ansible_collections.onedrive.connection.plugins.module_utils.endpoints import endpoints
from ansible_collections.onedrive.connection.plugins.module_utils.errors import OneDriveError
from ansible_collections.onedrive.connection.plugins.module_utils.rotation import (
    ACCESS,
    NOT_DUE,
    REFRESH,
    Policy,
    plan,
    rotate_all,
)
from ansible_collections.onedrive.connection.plugins.module_utils.tokens import Client
from ansible_collections.onedrive.connection.plugins.module_utils.transport import Transport

NOW = datetime.datetime(2026, 3, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
WEEK = 7 * 86400
RECENT = "2026-02-28T12:00:00Z"
FRESH_ACCESS = {"access_token": "stored-access", "access_token_expires_at": "2026-03-01T13:00:00Z"}
WORK_ID = "2f1e0d9c-8b7a-4f6e-9d5c-4b3a2f1e0d9c"


def token_answer(refresh_token="new-refresh"):
    return dict(
        token_type="Bearer", expires_in=3600, access_token="new-access", refresh_token=refresh_token,
        scope="https://graph.microsoft.com/User.Read https://graph.microsoft.com/Files.Read",
    )


def batch(me_status=200):
    me = {"id": WORK_ID, "displayName": "U", "userPrincipalName": "u@contoso.com"}
    return {
        "responses": [
            {"id": "me", "status": me_status, "body": me if me_status == 200 else {"error": {"code": "x"}}},
            {"id": "drive", "status": 200, "body": {"id": "d", "driveType": "business"}},
        ]
    }


@pytest.fixture
def transport():
    with Transport(sleep=lambda seconds: None) as transport:
        yield transport


def run(transport, connections, **policy):
    def make_client(record):
        if record.get("client_id") == "bad":
            raise OneDriveError("client_id is not a GUID.", "invalid_option")
        return Client(transport, endpoints(login_url="https://login.example", graph_url="https://graph.example"), "c")

    return rotate_all(transport, connections, make_client, Policy(**policy), NOW, max_workers=1)


@pytest.mark.parametrize(
    "record, policy, step",
    [
        ({"rotated_at": RECENT}, dict(rotate_after=WEEK), NOT_DUE),
        ({"rotated_at": RECENT}, dict(rotate_after=WEEK, force=True), REFRESH),
        ({"rotated_at": "2026-02-01T00:00:00Z"}, dict(rotate_after=WEEK), REFRESH),
        ({"rotated_at": RECENT, **FRESH_ACCESS}, dict(rotate_after=WEEK, check_not_due=True), ACCESS),
        ({"rotated_at": RECENT}, dict(rotate_after=WEEK, check_not_due=True), REFRESH),
    ],
)
def test_plan(record, policy, step):
    assert plan(record, NOW, Policy(**policy)) == step


def test_a_rotation_stores_the_new_tokens_and_who_they_reach(fake_http, transport):
    fake_http.answer(200, token_answer())
    fake_http.answer(200, batch())
    outcome = run(transport, {"robot": {"refresh_token": "old-refresh"}})["robot"]
    assert outcome.status == "rotated"
    update = outcome.update()
    assert update["refresh_token"] == "new-refresh" and update["access_token"] == "new-access"
    assert update["rotated_at"] == update["verified_at"] and update["user_principal_name"] == "u@contoso.com"
    assert (update["drive_id"], update["drive_type"]) == ("d", "business")
    summary = outcome.summary()
    assert "new-refresh" not in repr(summary) and "new-access" not in repr(summary)


def test_not_due_costs_nothing(fake_http, transport):
    outcomes = run(transport, {"robot": {"refresh_token": "r", "rotated_at": RECENT}}, rotate_after=WEEK)
    assert outcomes["robot"].status == "not_due" and outcomes["robot"].update() is None
    assert fake_http.requests == []


def test_a_check_with_the_stored_access_token_stores_nothing(fake_http, transport):
    fake_http.answer(200, batch())
    record = {"refresh_token": "r", "rotated_at": RECENT, **FRESH_ACCESS}
    outcome = run(transport, {"robot": record}, rotate_after=WEEK, check_not_due=True)["robot"]
    assert outcome.status == "verified" and outcome.update() is None
    assert len(fake_http.requests) == 1


def test_a_refused_access_token_falls_back_to_the_refresh_token(fake_http, transport):
    fake_http.answer(401, {"error": {"code": "InvalidAuthenticationToken", "message": "expired"}})
    fake_http.answer(200, token_answer())
    fake_http.answer(200, batch())
    record = {"refresh_token": "r", "rotated_at": RECENT, **FRESH_ACCESS}
    outcome = run(transport, {"robot": record}, rotate_after=WEEK, check_not_due=True)["robot"]
    assert outcome.status == "rotated"


def test_check_mode_redeems_no_refresh_token(fake_http, transport):
    outcome = run(transport, {"robot": {"refresh_token": "r"}}, check_mode=True)["robot"]
    assert outcome.status == "skipped" and fake_http.requests == []


def test_failures_stay_with_their_connection(fake_http, transport):
    fake_http.answer(400, {"error": "invalid_grant", "error_description": "AADSTS50173: revoked", "error_codes": [50173]})
    fake_http.answer(200, token_answer())
    fake_http.answer(200, batch())
    outcomes = run(
        transport,
        {"revoked": {"refresh_token": "r1"}, "fine": {"refresh_token": "r2"}, "none": {}, "bad": {"client_id": "bad"}},
    )
    assert [outcome.status for outcome in outcomes.values()] == ["failed", "rotated", "failed", "failed"]
    assert outcomes["revoked"].summary()["reason"] == "token_revoked"
    assert outcomes["revoked"].summary()["needs_authorization"] is True
    assert outcomes["none"].summary()["reason"] == "token_invalid"
    assert outcomes["bad"].summary()["reason"] == "invalid_option"
    assert outcomes["bad"].summary()["needs_authorization"] is False


def test_a_graph_failure_after_the_refresh_still_stores_the_new_token(fake_http, transport):
    fake_http.answer(200, token_answer())
    fake_http.answer(200, batch(me_status=403))
    outcome = run(transport, {"robot": {"refresh_token": "old"}})["robot"]
    assert outcome.status == "failed"
    update = outcome.update()
    assert update["refresh_token"] == "new-refresh" and "verified_at" not in update
