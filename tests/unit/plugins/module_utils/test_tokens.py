from __future__ import annotations

import base64
import json

import pytest

from ansible_collections.onedrive.connection.plugins.module_utils.endpoints import endpoints
from ansible_collections.onedrive.connection.plugins.module_utils.errors import OneDriveError
from ansible_collections.onedrive.connection.plugins.module_utils.schedule import format_timestamp, utcnow
from ansible_collections.onedrive.connection.plugins.module_utils.tokens import (
    Client,
    UnusableAccessToken,
    id_token_claims,
)
from ansible_collections.onedrive.connection.plugins.module_utils.transport import Transport

CLIENT_ID = "3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11"
REDIRECT = "https://login.microsoftonline.com/common/oauth2/nativeclient"
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CLAIMS = dict(
    tid="5f3c2a1e-8b7d-4e6f-9a0b-1c2d3e4f5a6b",
    oid="2f1e0d9c-8b7a-4f6e-9d5c-4b3a2f1e0d9c",
    preferred_username="adele@contoso.onmicrosoft.com",
    name="Adele Vance",
    aud=CLIENT_ID,
    nonce="n",
)


def jwt(claims) -> str:
    def part(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


def success(**overrides):
    body = dict(
        token_type="Bearer",
        scope="https://graph.microsoft.com/Files.Read https://graph.microsoft.com/User.Read openid",
        expires_in=4523,
        ext_expires_in=4523,
        access_token="access-1",
        refresh_token="refresh-1",
        id_token=jwt(CLAIMS),
    )
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not None}


@pytest.fixture
def client():
    return Client(Transport(sleep=lambda seconds: None), endpoints(), CLIENT_ID)


def test_redeem_code_sends_the_form_and_reads_the_answer(fake_http, client):
    fake_http.answer(200, success())
    before = utcnow()
    tokens = client.redeem_code("the-code", REDIRECT, code_verifier=VERIFIER, scopes=["Files.Read", "offline_access"])
    sent = fake_http.requests[0]
    assert (sent["method"], sent["url"]) == ("POST", "https://login.microsoftonline.com/common/oauth2/v2.0/token")
    assert sent["data"] == dict(
        grant_type="authorization_code",
        code="the-code",
        redirect_uri=REDIRECT,
        code_verifier=VERIFIER,
        client_id=CLIENT_ID,
        scope="Files.Read offline_access",
    )
    result = tokens.result()
    expires_at = result.pop("access_token_expires_at")
    assert result == dict(
        refresh_token="refresh-1",
        access_token="access-1",
        token_type="Bearer",
        expires_in=4523,
        granted_scopes=["Files.Read", "User.Read", "openid"],
        tenant_id=CLAIMS["tid"],
        id_token_claims={name: CLAIMS[name] for name in ("tid", "oid", "preferred_username", "name")},
    )
    assert expires_at == format_timestamp(tokens.expires_at)
    assert 4523 <= (tokens.expires_at - before).total_seconds() <= 4525


def test_confidential_client_sends_its_secret_and_optional_fields_stay_out(fake_http):
    fake_http.answer(200, success(id_token=None, scope=None, expires_in="3600"))
    client = Client(Transport(), endpoints(tenant="contoso.onmicrosoft.com"), CLIENT_ID, "the-secret")
    tokens = client.redeem_code("the-code", "http://localhost/callback")
    assert fake_http.requests[0]["data"] == dict(
        grant_type="authorization_code",
        code="the-code",
        redirect_uri="http://localhost/callback",
        client_id=CLIENT_ID,
        client_secret="the-secret",
    )
    assert (tokens.expires_in, tokens.granted_scopes, tokens.tenant_id, tokens.id_token_claims) == (
        3600,
        None,
        None,
        None,
    )


def test_no_expires_in_means_no_expiry(fake_http, client):
    fake_http.answer(200, success(expires_in=None))
    tokens = client.refresh("refresh-0")
    assert tokens.expires_at is None and tokens.result()["access_token_expires_at"] is None


def test_refresh(fake_http, client):
    fake_http.answer(200, success(refresh_token="refresh-2"))
    tokens = client.refresh("refresh-1", scopes=["Files.Read"])
    assert fake_http.requests[0]["data"] == dict(
        grant_type="refresh_token", refresh_token="refresh-1", client_id=CLIENT_ID, scope="Files.Read"
    )
    assert tokens.refresh_token == "refresh-2"


def test_tokens_stay_out_of_repr(fake_http, client):
    fake_http.answer(200, success())
    text = repr(client.refresh("refresh-0"))
    assert "access-1" not in text and "refresh-1" not in text


def test_no_refresh_token_names_offline_access(fake_http, client):
    fake_http.answer(200, success(refresh_token=None))
    with pytest.raises(OneDriveError, match="offline_access") as raised:
        client.redeem_code("the-code", REDIRECT)
    assert raised.value.reason == "missing_scope"
    assert "access-1" not in raised.value.msg


@pytest.mark.parametrize(
    "answer, what",
    [
        (dict(body="<html>proxy login</html>"), "not with a JSON object"),
        (dict(payload=["access_token"]), "not with a JSON object"),
        (dict(payload=success(access_token=None)), "without an access token"),
        (dict(payload=success(access_token="")), "without an access token"),
        (dict(payload=success(token_type="mac")), "token type other than Bearer"),
        (dict(payload=success(token_type=None)), "token type other than Bearer"),
    ],
)
def test_malformed_success(fake_http, client, answer, what):
    fake_http.answer(200, **answer)
    with pytest.raises(OneDriveError, match=what) as raised:
        client.redeem_code("the-code", REDIRECT)
    assert raised.value.reason == "unexpected_response"


@pytest.mark.parametrize("token", ["rt\u2019-SECRET", "rt\u00e9-SECRET", "rt -SECRET", "rt\x00-SECRET"])
def test_a_refresh_token_no_request_could_carry_is_unexpected(fake_http, client, token):
    fake_http.answer(200, success(refresh_token=token))
    with pytest.raises(OneDriveError, match="refresh token holding characters") as raised:
        client.refresh("refresh-0")
    assert raised.value.reason == "unexpected_response" and not isinstance(raised.value, UnusableAccessToken)
    assert "SECRET" not in raised.value.msg


@pytest.mark.parametrize("token", ["at\u2019-SECRET", "at\u00e9-SECRET", "at -SECRET", "at\x7f-SECRET"])
def test_an_access_token_no_header_could_carry_is_unexpected_but_keeps_the_refresh_token(fake_http, client, token):
    fake_http.answer(200, success(access_token=token, refresh_token="refresh-2"))
    with pytest.raises(UnusableAccessToken, match="access token holding characters") as raised:
        client.refresh("refresh-1")
    assert raised.value.reason == "unexpected_response" and "SECRET" not in raised.value.msg
    tokens = raised.value.tokens
    assert (tokens.refresh_token, tokens.access_token, tokens.expires_at) == ("refresh-2", "", None)
    assert tokens.granted_scopes == ["Files.Read", "User.Read", "openid"] and tokens.tenant_id == CLAIMS["tid"]


def test_errors_are_classified_for_the_grant_and_never_echo_secrets(fake_http):
    body = dict(
        error="invalid_grant",
        error_description="AADSTS70008: The provided authorization code or refresh token has expired: the-code"
        " the-secret",
        error_codes=[70008],
        trace_id="t",
        correlation_id="c",
    )
    client = Client(Transport(), endpoints(), CLIENT_ID, "the-secret")
    fake_http.answer(400, body)
    with pytest.raises(OneDriveError) as redeemed:
        client.redeem_code("the-code", REDIRECT, code_verifier=VERIFIER)
    fake_http.answer(400, body)
    with pytest.raises(OneDriveError) as refreshed:
        client.refresh("the-code")
    assert (redeemed.value.reason, refreshed.value.reason) == ("code_expired", "token_expired")
    for failure in (redeemed.value, refreshed.value):
        assert "the-code" not in failure.msg and "the-secret" not in failure.msg
        assert (failure.trace_id, failure.correlation_id) == ("t", "c")


def test_throttling_after_retries_reports_the_wait(fake_http):
    client = Client(Transport(max_retry_wait=10, sleep=lambda seconds: None), endpoints(), CLIENT_ID)
    fake_http.answer(429, body="Too Many Requests", headers={"Retry-After": "30"})
    with pytest.raises(OneDriveError) as raised:
        client.refresh("refresh-1")
    assert raised.value.reason == "throttled" and raised.value.retry_after == 30.0
    assert len(fake_http.requests) == 1


@pytest.mark.parametrize(
    "token", [None, 42, "", "one-part", "a.!!!.c", "a." + base64.urlsafe_b64encode(b"[1]").decode() + ".c"]
)
def test_unreadable_id_tokens_give_no_claims(token):
    assert id_token_claims(token) is None


def test_id_token_claims_pick_the_informational_ones():
    assert id_token_claims(jwt(dict(tid="t", sub="s"))) == dict(tid="t")
