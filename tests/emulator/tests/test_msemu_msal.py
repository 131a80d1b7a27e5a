"""Fidelity check: Microsoft's own MSAL Python completes its flows against the emulator over HTTPS."""

from __future__ import annotations

from urllib.parse import parse_qsl

import msal
import pytest

# MSAL nudges towards form_post; the query mode is still what most native clients use.
pytestmark = pytest.mark.filterwarnings("ignore:response_mode='form_post' is recommended:UserWarning")


@pytest.fixture(autouse=True)
def _trust_only_the_emulator_ca(monkeypatch):
    # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a Session's verify, which is how MSAL
    # passes verify=; this machine sets both to the system bundle.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


def _public_app(proto, tenant="common"):
    # A fresh application per test: MSAL caches identical 400 answers for 60 s per object.
    return msal.PublicClientApplication(proto.PUBLIC, authority=f"{proto.base}/{tenant}",
                                        instance_discovery=False, verify=proto.ca)


def test_auth_code_with_pkce_then_refresh(proto, emulator):
    app = _public_app(proto)
    flow = app.initiate_auth_code_flow(["User.Read", "Files.Read"], redirect_uri="http://localhost:8765")
    assert "code_challenge=" in flow["auth_uri"] and "code_challenge_method=S256" in flow["auth_uri"]
    final = emulator.sign_in(flow["auth_uri"], proto.ADELE)
    assert final.startswith("http://localhost:8765/?code=")
    result = app.acquire_token_by_auth_code_flow(flow, proto.redirect_params(final))
    assert "error" not in result, result
    assert result["id_token_claims"]["preferred_username"] == proto.ADELE
    assert result["id_token_claims"]["tid"] == proto.CONTOSO
    assert app.get_accounts()[0]["username"] == proto.ADELE
    refreshed = app.acquire_token_by_refresh_token(result["refresh_token"], ["User.Read", "Files.Read"])
    assert "error" not in refreshed, refreshed
    assert refreshed["refresh_token"] != result["refresh_token"]
    assert proto.graph("/me/drive", refreshed["access_token"]).json()["driveType"] == "business"
    assert emulator.log()["counts"]["token"] == 2


def test_form_post_response_mode(proto, emulator):
    app = _public_app(proto)
    flow = app.initiate_auth_code_flow(["User.Read"], redirect_uri="http://localhost", response_mode="form_post")
    posted = dict(parse_qsl(emulator.sign_in(flow["auth_uri"], proto.ADELE)))
    result = app.acquire_token_by_auth_code_flow(flow, posted)
    assert "error" not in result, result


def test_personal_account_through_consumers(proto, emulator):
    app = _public_app(proto, "consumers")
    flow = app.initiate_auth_code_flow(["Files.Read"], redirect_uri=proto.NATIVE)
    result = app.acquire_token_by_auth_code_flow(
        flow, proto.redirect_params(emulator.sign_in(flow["auth_uri"], proto.MEGAN)))
    assert "error" not in result, result
    assert result["id_token_claims"]["tid"] == proto.CONSUMERS


def test_confidential_client_with_secret(proto, emulator):
    app = msal.ConfidentialClientApplication(proto.CONFIDENTIAL, client_credential=proto.SECRET,
                                             authority=f"{proto.base}/organizations", instance_discovery=False,
                                             verify=proto.ca)
    flow = app.initiate_auth_code_flow(["User.Read"], redirect_uri="http://localhost/callback")
    result = app.acquire_token_by_auth_code_flow(
        flow, proto.redirect_params(emulator.sign_in(flow["auth_uri"], proto.ALEX)))
    assert "error" not in result, result
    assert result["id_token_claims"]["tid"] == proto.FABRIKAM


def test_device_flow(proto, emulator):
    app = _public_app(proto)
    flow = app.initiate_device_flow(["User.Read"])
    assert flow["verification_uri"] == f"{proto.base}/devicelogin"
    emulator.device_sign_in(flow["user_code"], proto.ADELE)
    result = app.acquire_token_by_device_flow(flow)
    assert "error" not in result, result


def test_msal_parses_emulator_errors(proto):
    result = _public_app(proto).acquire_token_by_refresh_token("1.AXnot-a-token", ["User.Read"])
    assert result["error"] == "invalid_grant"
    assert result["error_codes"] == [9002313]
    assert result["error_description"].startswith("AADSTS9002313: ")


def test_msal_sees_cancelled_consent(proto, emulator):
    app = _public_app(proto)
    flow = app.initiate_auth_code_flow(["User.Read"], redirect_uri=proto.NATIVE)
    final = emulator.sign_in(flow["auth_uri"], proto.ADELE, consent=False)
    result = app.acquire_token_by_auth_code_flow(flow, proto.redirect_params(final))
    assert result["error"] == "access_denied"
    assert result["error_description"].startswith("AADSTS65004: ")


def test_msal_refuses_unknown_tenant(proto):
    with pytest.raises(ValueError, match="Unable to get authority configuration"):
        _public_app(proto, "nosuch.example")
