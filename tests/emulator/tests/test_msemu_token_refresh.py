"""The refresh_token grant: rotation, strict mode, inactivity expiry, revocation, consent and MFA."""

from __future__ import annotations

import json

import pytest

DAY = 86400


@pytest.fixture
def tokens(proto):
    return proto.redeem().json()


def test_every_refresh_rotates_and_old_tokens_stay_valid(proto, tokens):
    first = proto.refresh(tokens["refresh_token"])
    assert first.status_code == 200
    assert first.headers["Cache-Control"] == "no-store, no-cache"
    rotated = first.json()["refresh_token"]
    assert rotated != tokens["refresh_token"]
    again = proto.refresh(tokens["refresh_token"])
    assert again.status_code == 200
    assert again.json()["refresh_token"] not in (rotated, tokens["refresh_token"])


def test_strict_mode_revokes_the_grant_on_reuse(proto, emulator, tokens, login_error):
    emulator.strict(True)
    newest = proto.refresh(tokens["refresh_token"]).json()["refresh_token"]
    login_error(proto.refresh(tokens["refresh_token"]), 400, "invalid_grant", 50173)
    login_error(proto.refresh(newest), 400, "invalid_grant", 50173)


def test_strict_mode_accepts_the_newest_token(proto, emulator, tokens):
    emulator.strict(True)
    newest = proto.refresh(tokens["refresh_token"]).json()["refresh_token"]
    assert proto.refresh(newest).status_code == 200


def test_inactivity_expiry_after_ninety_days(proto, emulator, tokens, login_error):
    emulator.advance_clock(60 * DAY)
    renewed = proto.refresh(tokens["refresh_token"]).json()["refresh_token"]
    emulator.advance_clock(31 * DAY)
    login_error(proto.refresh(tokens["refresh_token"]), 400, "invalid_grant", 700082)
    assert proto.refresh(renewed).status_code == 200


def test_revoked_grant(proto, emulator, tokens, login_error):
    assert emulator.revoke(proto.ADELE) == 1
    login_error(proto.refresh(tokens["refresh_token"]), 400, "invalid_grant", 50173)
    # a fresh sign-in after the revocation works again
    assert proto.refresh(proto.redeem().json()["refresh_token"]).status_code == 200


@pytest.mark.parametrize(("form", "status", "error", "code"), [
    ({"refresh_token": "1.AXgarbage"}, 400, "invalid_grant", 9002313),
    ({"refresh_token": ""}, 400, "invalid_request", 900144),
    ({"scope": "Files.ReadWrite.All"}, 400, "invalid_grant", 65001),
    ({"scope": "Sites.Nonsense"}, 400, "invalid_scope", 70011),
    ({"client_id": "6e5d4c3b-2a1f-4e0d-9c8b-7a6f5e4d3c55"}, 400, "invalid_grant", 70000),
    ({"client_secret": "x" * 20}, 401, "invalid_client", 700025),
])
def test_refresh_errors(proto, tokens, login_error, form, status, error, code):
    args = {"refresh_token": tokens["refresh_token"], **form}
    body = login_error(proto.refresh(**args), status, error, code)
    if code == 65001:
        assert body["suberror"] == "consent_required"


def test_scope_subset_narrows_the_access_token(proto, tokens):
    body = proto.refresh(tokens["refresh_token"], scope="User.Read").json()
    assert body["scope"].split() == ["https://graph.microsoft.com/User.Read", "offline_access"]
    assert "id_token" not in body
    assert proto.graph("/me", body["access_token"]).status_code == 200
    assert proto.graph("/me/drive", body["access_token"]).status_code == 403


def test_refresh_without_scope_keeps_the_granted_scopes(proto, tokens):
    body = proto.refresh(tokens["refresh_token"]).json()
    assert body["scope"] == tokens["scope"]
    assert "id_token" in body


def test_mfa_user_needs_interaction(proto, login_error):
    tokens = proto.redeem(proto.MFA).json()
    body = login_error(proto.refresh(tokens["refresh_token"]), 400, "invalid_grant", 50076)
    assert body["suberror"] == "basic_action"
    assert "capolids" in json.loads(body["claims"])["access_token"]


def test_personal_refresh_token_refused_under_organizations(proto, login_error):
    tokens = proto.redeem(proto.MEGAN).json()
    login_error(proto.refresh(tokens["refresh_token"], tenant="organizations"), 400, "invalid_grant", 50020)
    assert proto.refresh(tokens["refresh_token"], tenant="consumers").status_code == 200


def test_confidential_refresh_needs_the_secret(proto, emulator, login_error):
    tokens = emulator.grant(proto.CONFIDENTIAL, proto.ADELE, ["User.Read", "offline_access"])
    refresh = tokens["refresh_token"]
    login_error(proto.refresh(refresh, client_id=proto.CONFIDENTIAL), 401, "invalid_client", 7000218)
    assert proto.refresh(refresh, client_id=proto.CONFIDENTIAL, client_secret=proto.SECRET).status_code == 200
