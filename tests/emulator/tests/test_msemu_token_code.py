"""The authorization_code grant, client authentication and the success body shape."""

from __future__ import annotations

import base64
import json
import re

import pytest


def _claims(jwt: str) -> dict:
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_work_account_success_body(proto):
    code, verifier = proto.code(nonce="n-0S6_WzA2Mj")
    response = proto.token(client_id=proto.PUBLIC, grant_type="authorization_code", code=code,
                           redirect_uri=proto.NATIVE, code_verifier=verifier, client_info="1")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store, no-cache"
    assert response.headers["Pragma"] == "no-cache"
    body = response.json()
    assert set(body) == {"token_type", "scope", "expires_in", "ext_expires_in", "access_token", "refresh_token",
                         "id_token", "client_info"}
    assert body["token_type"] == "Bearer"
    assert 3600 <= body["expires_in"] <= 5399
    assert body["ext_expires_in"] == body["expires_in"]
    assert body["scope"].split() == ["https://graph.microsoft.com/Files.Read", "https://graph.microsoft.com/User.Read",
                                     "openid", "profile", "offline_access"]
    claims = _claims(body["id_token"])
    assert claims["aud"] == proto.PUBLIC
    assert claims["iss"] == f"{proto.base}/{proto.CONTOSO}/v2.0"
    assert claims["tid"] == proto.CONTOSO
    assert claims["oid"] == "b5a1c2d3-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    assert claims["preferred_username"] == proto.ADELE
    assert claims["name"] == "Adele Vance"
    assert claims["nonce"] == "n-0S6_WzA2Mj"
    assert claims["nbf"] == claims["iat"] < claims["exp"]
    info = json.loads(base64.urlsafe_b64decode(body["client_info"] + "=" * (-len(body["client_info"]) % 4)))
    assert info == {"uid": claims["oid"], "utid": proto.CONTOSO}


def test_personal_account_gets_short_scopes_and_an_opaque_access_token(proto):
    body = proto.redeem(proto.MEGAN).json()
    assert body["scope"].split() == ["Files.Read", "User.Read", "openid", "profile", "offline_access"]
    assert "." not in body["access_token"]
    claims = _claims(body["id_token"])
    assert claims["tid"] == proto.CONSUMERS
    assert re.fullmatch(r"00000000-0000-0000-[0-9a-f]{4}-[0-9a-f]{12}", claims["oid"])
    assert "nonce" not in claims


def test_no_refresh_token_without_offline_access_and_no_id_token_without_openid(proto):
    body = proto.redeem(scope="Files.Read User.Read").json()
    assert "refresh_token" not in body
    assert "id_token" not in body
    assert "client_info" not in body
    assert body["scope"].split() == ["https://graph.microsoft.com/Files.Read", "https://graph.microsoft.com/User.Read"]


def test_default_scope_expands_to_the_apps_permissions(proto):
    body = proto.redeem(scope="https://graph.microsoft.com/.default offline_access").json()
    assert body["scope"].split() == ["https://graph.microsoft.com/Files.ReadWrite.All",
                                     "https://graph.microsoft.com/User.Read", "offline_access"]


def _code_form(proto, auth_code, verifier, overrides=None, **extra):
    form = {"client_id": proto.PUBLIC, "grant_type": "authorization_code", "code": auth_code,
            "redirect_uri": proto.NATIVE, "code_verifier": verifier}
    form.update(overrides or {}, **extra)
    return {k: v for k, v in form.items() if v is not None}


def test_code_is_single_use(proto, login_error):
    code, verifier = proto.code()
    assert proto.token(**_code_form(proto, code, verifier)).status_code == 200
    login_error(proto.token(**_code_form(proto, code, verifier)), 400, "invalid_grant", 54005)


def test_code_expires_after_ten_minutes(proto, emulator, login_error):
    code, verifier = proto.code()
    emulator.advance_clock(601)
    login_error(proto.token(**_code_form(proto, code, verifier)), 400, "invalid_grant", 70008)


def test_code_still_works_just_before_ten_minutes(proto, emulator):
    code, verifier = proto.code()
    emulator.advance_clock(590)
    assert proto.token(**_code_form(proto, code, verifier)).status_code == 200


@pytest.mark.parametrize(("overrides", "status", "error", "code"), [
    ({"redirect_uri": "http://localhost"}, 400, "invalid_grant", 50011),
    ({"code_verifier": "w" * 50}, 400, "invalid_grant", 50148),
    ({"code_verifier": None}, 400, "invalid_grant", 501481),
    ({"code": "1.AXgarbage"}, 400, "invalid_grant", 9002313),
    ({"code": None}, 400, "invalid_request", 900144),
    ({"redirect_uri": None}, 400, "invalid_request", 900144),
    ({"grant_type": None}, 400, "invalid_request", 900144),
    ({"client_id": None}, 400, "invalid_request", 900144),
    ({"grant_type": "password"}, 400, "unsupported_grant_type", 70003),
    ({"client_id": "00000000-1111-4222-8333-444444444444"}, 400, "unauthorized_client", 700016),
    ({"client_id": "6e5d4c3b-2a1f-4e0d-9c8b-7a6f5e4d3c55"}, 400, "invalid_grant", 70000),
    ({"client_secret": "anything"}, 401, "invalid_client", 700025),
    ({"scope": "Files.Destroy"}, 400, "invalid_scope", 70011),
])
def test_authorization_code_errors(proto, login_error, overrides, status, error, code):
    auth_code, verifier = proto.code()
    body = login_error(proto.token(**_code_form(proto, auth_code, verifier, overrides)), status, error, code)
    assert "suberror" not in body


def test_failed_redemption_does_not_burn_the_code(proto, login_error):
    code, verifier = proto.code()
    login_error(proto.token(**_code_form(proto, code, "w" * 50)), 400, "invalid_grant", 50148)
    assert proto.token(**_code_form(proto, code, verifier)).status_code == 200


def test_plain_pkce_when_the_method_is_absent(proto, emulator):
    verifier = "plain-verifier-" + "v" * 40
    url = proto.authorize_url(code_challenge=verifier)
    code = proto.redirect_params(emulator.sign_in(url, proto.ADELE))["code"]
    assert proto.token(**_code_form(proto, code, verifier)).status_code == 200


def test_pkce_is_optional_for_public_clients(proto, emulator):
    code = proto.redirect_params(emulator.sign_in(proto.authorize_url(), proto.ADELE))["code"]
    assert proto.token(**_code_form(proto, code, None)).status_code == 200


def _confidential_code(proto, emulator):
    url = proto.authorize_url(client_id=proto.CONFIDENTIAL, redirect_uri="http://localhost:8123/callback")
    return proto.redirect_params(emulator.sign_in(url, proto.ADELE))["code"]


def _confidential_form(proto, code, **extra):
    return dict(grant_type="authorization_code", code=code, redirect_uri="http://localhost:8123/callback", **extra)


def test_confidential_client_secret_in_body(proto, emulator):
    code = _confidential_code(proto, emulator)
    response = proto.token(**_confidential_form(proto, code, client_id=proto.CONFIDENTIAL, client_secret=proto.SECRET))
    assert response.status_code == 200


def test_confidential_client_secret_with_http_basic(proto, emulator):
    code = _confidential_code(proto, emulator)
    response = proto.token(auth=(proto.CONFIDENTIAL, proto.SECRET), **_confidential_form(proto, code))
    assert response.status_code == 200


@pytest.mark.parametrize(("secret", "code"), [(None, 7000218), ("emu-secret-wrong", 7000215)])
def test_confidential_client_authentication_errors(proto, emulator, login_error, secret, code):
    auth_code = _confidential_code(proto, emulator)
    form = _confidential_form(proto, auth_code, client_id=proto.CONFIDENTIAL)
    if secret:
        form["client_secret"] = secret
    login_error(proto.token(**form), 401, "invalid_client", code)


def test_public_flows_off_requires_a_secret(proto, emulator, login_error):
    url = proto.authorize_url(client_id=proto.NO_PUBLIC_FLOWS)
    code = proto.redirect_params(emulator.sign_in(url, proto.ADELE))["code"]
    form = _code_form(proto, code, None, client_id=proto.NO_PUBLIC_FLOWS)
    login_error(proto.token(**form), 401, "invalid_client", 7000218)


def test_single_tenant_app_on_common_token_endpoint(proto, emulator, login_error):
    code, verifier = proto.code(tenant="contoso.com", client_id=proto.SINGLE_TENANT)
    form = _code_form(proto, code, verifier, client_id=proto.SINGLE_TENANT)
    login_error(proto.token("common", **form), 400, "invalid_request", 50194)
    assert proto.token("contoso.com", **form).status_code == 200


def test_personal_account_code_refused_under_organizations(proto, login_error):
    code, verifier = proto.code(proto.MEGAN)
    login_error(proto.token("organizations", **_code_form(proto, code, verifier)), 400, "invalid_grant", 50020)


def test_unknown_tenant_at_the_token_endpoint(proto, login_error):
    login_error(proto.token("nosuch.example", grant_type="refresh_token"), 400, "invalid_tenant", 90002)
