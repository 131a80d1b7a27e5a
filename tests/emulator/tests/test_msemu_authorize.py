"""The authorize endpoint, its pages, redirects and audience rules, driven through sign_in()."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qsl

import pytest
from msemu.browser import Browser
from msemu.client import SignInError

PUBLIC = "3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11"


def test_success_redirect_carries_code_state_and_session_state(proto, emulator):
    final = emulator.sign_in(proto.authorize_url(state="a b&c=d/é"), proto.ADELE)
    assert final.startswith(proto.NATIVE + "?code=")
    params = proto.redirect_params(final)
    assert set(params) == {"code", "state", "session_state"}
    assert params["state"] == "a b&c=d/é"
    uuid.UUID(params["session_state"])


@pytest.mark.parametrize(("client_id", "registered", "requested", "expected_prefix"), [
    # http://localhost matches any port; a path-less URI comes back with "/"
    (PUBLIC, "http://localhost", "http://localhost:53682",
     "http://localhost:53682/?code="),
    (PUBLIC, "http://localhost", "http://localhost", "http://localhost/?code="),
    (PUBLIC, "http://localhost", "http://localhost:8080/", "http://localhost:8080/?code="),
    ("8c2a9f4e-6b1d-4f3a-9e2c-7d5b0a1c3e22", "http://localhost/callback", "http://localhost:9000/callback",
     "http://localhost:9000/callback?code="),
])
def test_loopback_redirect_ignores_the_port(proto, emulator, client_id, registered, requested, expected_prefix):
    url = proto.authorize_url(client_id=client_id, redirect_uri=requested)
    assert emulator.sign_in(url, proto.ADELE).startswith(expected_prefix)


@pytest.mark.parametrize("redirect_uri", [
    "http://127.0.0.1:53682",  # registrable only through the manifest
    "http://localhost:53682/other",
    "https://localhost",
    "https://login.microsoftonline.com/common/oauth2/NativeClient",  # case-sensitive
    "https://evil.example/cb",
    "http://localhost:port",
])
def test_unregistered_redirect_uri_is_an_error_page(proto, emulator, redirect_uri):
    with pytest.raises(SignInError) as caught:
        emulator.sign_in(proto.authorize_url(redirect_uri=redirect_uri), proto.ADELE)
    assert caught.value.status == 400
    assert "AADSTS50011" in caught.value.page


@pytest.mark.parametrize(("params", "tenant", "code"), [
    ({"client_id": "00000000-1111-4222-8333-444444444444"}, "common", "AADSTS700016"),
    ({"client_id": None}, "common", "AADSTS900144"),
    ({}, "nosuch.example", "AADSTS90002"),
    ({"client_id": "1b7e4c2d-3a5f-4e8b-9c0d-6f2a1e3b4c33"}, "common", "AADSTS50194"),
    ({"client_id": "1b7e4c2d-3a5f-4e8b-9c0d-6f2a1e3b4c33"}, "organizations", "AADSTS50194"),
    ({"client_id": "1b7e4c2d-3a5f-4e8b-9c0d-6f2a1e3b4c33"}, "fabrikam.onmicrosoft.com", "AADSTS700016"),
    ({"client_id": "8c2a9f4e-6b1d-4f3a-9e2c-7d5b0a1c3e22"}, "consumers", "AADSTS700016"),
    ({"client_id": "6e5d4c3b-2a1f-4e0d-9c8b-7a6f5e4d3c55"}, "organizations", "AADSTS700016"),
])
def test_errors_before_the_redirect_uri_is_trusted_are_pages(proto, emulator, params, tenant, code):
    with pytest.raises(SignInError) as caught:
        emulator.sign_in(proto.authorize_url(tenant, **params), proto.ADELE)
    assert code in caught.value.page


def test_single_tenant_app_works_on_its_tenant(proto, emulator):
    url = proto.authorize_url("contoso.com", client_id=proto.SINGLE_TENANT)
    assert "code" in proto.redirect_params(emulator.sign_in(url, proto.ADELE))


@pytest.mark.parametrize(("client_id", "tenant", "user", "code"), [
    ("8c2a9f4e-6b1d-4f3a-9e2c-7d5b0a1c3e22", "common", "megan@outlook.com", "AADSTS50020"),  # work-only app
    ("3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11", "organizations", "megan@outlook.com", "AADSTS50020"),
    ("3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11", "consumers", "adele@contoso.onmicrosoft.com", "AADSTS50020"),
    ("3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11", "contoso.com", "alex@fabrikam.onmicrosoft.com", "AADSTS50020"),
    ("6e5d4c3b-2a1f-4e0d-9c8b-7a6f5e4d3c55", "common", "adele@contoso.onmicrosoft.com", "AADSTS50020"),
    ("3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11", "common", "nobody@contoso.onmicrosoft.com", "AADSTS50034"),
])
def test_users_outside_the_audience_are_refused(proto, emulator, client_id, tenant, user, code):
    url = proto.authorize_url(tenant, client_id=client_id)
    with pytest.raises(SignInError) as caught:
        emulator.sign_in(url, user)
    assert code in caught.value.page


@pytest.mark.parametrize(("client_id", "tenant", "user"), [
    ("3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11", "common", "megan@outlook.com"),
    ("3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11", "consumers", "megan@outlook.com"),
    ("3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11", "organizations", "alex@fabrikam.onmicrosoft.com"),
    ("6e5d4c3b-2a1f-4e0d-9c8b-7a6f5e4d3c55", "consumers", "megan@outlook.com"),
    ("8c2a9f4e-6b1d-4f3a-9e2c-7d5b0a1c3e22", "fabrikam.onmicrosoft.com", "alex@fabrikam.onmicrosoft.com"),
])
def test_users_inside_the_audience_get_a_code(proto, emulator, client_id, tenant, user):
    redirect = "http://localhost/callback" if client_id == proto.CONFIDENTIAL else proto.NATIVE
    url = proto.authorize_url(tenant, client_id=client_id, redirect_uri=redirect)
    assert "code" in proto.redirect_params(emulator.sign_in(url, user))


def test_cancel_on_consent_redirects_access_denied(proto, emulator):
    params = proto.redirect_params(emulator.sign_in(proto.authorize_url(), proto.ADELE, consent=False))
    assert params["error"] == "access_denied"
    assert params["error_subcode"] == "cancel"
    assert params["error_description"].startswith("AADSTS65004: ")
    assert "\r\nTrace ID: " in params["error_description"]
    assert "\r\nCorrelation ID: " in params["error_description"]
    assert params["error_uri"].endswith("/error?code=65004")
    assert params["state"] == "st-1"
    assert "code" not in params


@pytest.mark.parametrize(("params", "error", "code"), [
    ({"response_type": "token"}, "unsupported_response_type", "AADSTS700054"),
    ({"response_type": None}, "invalid_request", "AADSTS900144"),
    ({"scope": None}, "invalid_request", "AADSTS900144"),
    ({"scope": "Files.Destroy"}, "invalid_scope", "AADSTS70011"),
    ({"scope": "https://outlook.office.com/Mail.Read"}, "invalid_scope", "AADSTS70011"),
    ({"prompt": "sometimes"}, "invalid_request", "AADSTS90023"),
    ({"code_challenge": "x" * 43, "code_challenge_method": "S512"}, "invalid_request", "AADSTS90023"),
    ({"code_challenge": "short", "code_challenge_method": "S256"}, "invalid_request", "AADSTS501491"),
    ({"response_mode": "web_message"}, "invalid_request", "AADSTS70007"),
    ({"prompt": "none"}, "login_required", "AADSTS50058"),
])
def test_invalid_requests_redirect_with_an_error(proto, emulator, params, error, code):
    browser = Browser(proto.ca)
    page = browser.open(proto.authorize_url(**params))
    assert page.status == 302
    result = proto.redirect_params(page.location)
    assert result["error"] == error
    assert result["error_description"].startswith(code + ": ")
    assert result["state"] == "st-1"


def test_fragment_response_mode(proto, emulator):
    final = emulator.sign_in(proto.authorize_url(response_mode="fragment"), proto.ADELE)
    assert final.startswith(proto.NATIVE + "#code=")


def test_form_post_returns_the_posted_body(proto, emulator):
    posted = dict(parse_qsl(emulator.sign_in(proto.authorize_url(response_mode="form_post"), proto.ADELE)))
    assert set(posted) == {"code", "state", "session_state"}
    assert posted["state"] == "st-1"


def test_login_hint_preselects_the_user(proto, emulator):
    code, verifier = proto.code(None, login_hint=proto.ALEX)
    body = proto.token(client_id=proto.PUBLIC, grant_type="authorization_code", code=code,
                       redirect_uri=proto.NATIVE, code_verifier=verifier).json()
    assert proto.graph("/me", body["access_token"]).json()["userPrincipalName"] == proto.ALEX


def test_session_cookie_allows_prompt_none(proto, emulator):
    browser = Browser(proto.ca)
    page = browser.open(proto.authorize_url())
    page = browser.open(page.forms[0].action, dict(page.forms[0].fields, login=proto.ADELE))
    page = browser.open(page.forms[0].action, dict(page.forms[0].fields, action="accept"))
    assert "code" in proto.redirect_params(page.location)
    silent = browser.open(proto.authorize_url(prompt="none"))
    assert "code" in proto.redirect_params(silent.location)
    wrong_hint = browser.open(proto.authorize_url(prompt="none", login_hint=proto.ALEX))
    assert proto.redirect_params(wrong_hint.location)["error"] == "login_required"
    more_scopes = browser.open(proto.authorize_url(prompt="none", scope="Files.ReadWrite.All"))
    assert proto.redirect_params(more_scopes.location)["error"] == "consent_required"


def test_client_info_is_added_when_asked(proto, emulator):
    params = proto.redirect_params(emulator.sign_in(proto.authorize_url(client_info="1"), proto.ADELE))
    assert "client_info" in params


def test_expired_sign_in_form_is_an_error_page(proto, emulator):
    browser = Browser(proto.ca)
    page = browser.open(proto.authorize_url())
    emulator.advance_clock(3601)
    page = browser.open(page.forms[0].action, dict(page.forms[0].fields, login=proto.ADELE))
    assert page.status == 400
    assert "AADSTS50089" in page.text
