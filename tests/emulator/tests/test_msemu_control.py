"""The control API: every fault kind, latency, the request log, issued secrets, reset and grant()."""

from __future__ import annotations

import time

import pytest
import requests
from msemu.client import EmulatorError, SignInError

OPENID = "/common/v2.0/.well-known/openid-configuration"


def _get(proto, path):
    return requests.get(proto.base + path, verify=proto.ca, timeout=30)


def _refresh_token(emulator, proto):
    return emulator.grant(proto.PUBLIC, proto.ADELE, ["User.Read", "Files.Read", "offline_access"])


def test_status_fault_on_token_is_microsoft_shaped_and_counted(proto, emulator, login_error):
    tokens = _refresh_token(emulator, proto)
    emulator.fault("token", "status", count=2, status=429, retry_after=7)
    for _ in range(2):
        response = proto.refresh(tokens["refresh_token"])
        login_error(response, 429, "temporarily_unavailable", 90055)
        assert response.headers["Retry-After"] == "7"
    assert proto.refresh(tokens["refresh_token"]).status_code == 200


def test_pending_faults_count_down_as_their_requests_arrive(proto, emulator):
    tokens = _refresh_token(emulator, proto)
    emulator.fault("token", "status", count=2)
    emulator.fault("me", "status")
    assert emulator.pending_faults() == 3
    proto.refresh(tokens["refresh_token"])
    assert emulator.pending_faults() == 2
    emulator.reset()
    assert emulator.pending_faults() == 0


@pytest.mark.parametrize(("status", "error"), [(500, "server_error"), (503, "temporarily_unavailable"),
                                               (504, "temporarily_unavailable")])
def test_server_error_faults_on_login(proto, emulator, login_error, status, error):
    emulator.fault("openid", "status", status=status)
    login_error(_get(proto, OPENID), status, error, 90033)


def test_fractional_retry_after_on_graph(proto, emulator):
    token = _refresh_token(emulator, proto)["access_token"]
    emulator.fault("me", "status", status=429, retry_after="0.5")
    response = proto.graph("/me", token)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "0.5"
    assert response.json()["error"]["code"] == "TooManyRequests"


@pytest.mark.parametrize(("endpoint", "path", "status", "code"), [
    ("drive", "/me/drive", 429, "activityLimitReached"),
    ("graph", "/me", 503, "serviceNotAvailable"),
    ("*", "/me/drive", 504, "gatewayTimeout"),
    ("graph", "/me", 500, "generalException"),
])
def test_graph_status_faults(proto, emulator, endpoint, path, status, code):
    token = _refresh_token(emulator, proto)["access_token"]
    emulator.fault(endpoint, "status", status=status)
    response = proto.graph(path, token)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_html_fault_is_a_proxy_page(proto, emulator):
    emulator.fault("login", "html")
    response = _get(proto, OPENID)
    assert response.status_code == 502
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<h1>502 Bad Gateway</h1>" in response.text


def test_non_json_fault(proto, emulator):
    emulator.fault("token", "non_json", status=429, retry_after=1)
    response = proto.refresh("whatever")
    assert response.status_code == 429
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.headers["Retry-After"] == "1"
    with pytest.raises(ValueError):
        response.json()


def test_delay_fault(proto, emulator):
    emulator.fault("openid", "delay", delay=0.4)
    started = time.monotonic()
    assert _get(proto, OPENID).status_code == 200
    assert time.monotonic() - started >= 0.4


def test_drop_fault_closes_the_connection(proto, emulator):
    emulator.fault("openid", "drop")
    with pytest.raises(requests.ConnectionError):
        _get(proto, OPENID)
    assert _get(proto, OPENID).status_code == 200
    assert [r["status"] for r in emulator.log()["requests"]] == [None, 200]


def test_faults_on_me_and_drive_apply_inside_batch(proto, emulator):
    token = _refresh_token(emulator, proto)["access_token"]
    emulator.fault("me", "status", status=429, retry_after=3)
    emulator.fault("drive", "html", status=502)
    response = proto.graph("/$batch", token, method="POST", body={"requests": [
        {"id": "me", "method": "GET", "url": "/me"}, {"id": "drive", "method": "GET", "url": "/me/drive"}]})
    assert response.status_code == 200
    inner = {r["id"]: r for r in response.json()["responses"]}
    assert inner["me"]["status"] == 429
    assert inner["me"]["headers"]["Retry-After"] == "3"
    assert inner["me"]["body"]["error"]["code"] == "TooManyRequests"
    assert inner["drive"]["status"] == 502
    assert "502 Bad Gateway" in inner["drive"]["body"]


def test_batch_fault_applies_to_the_whole_request(proto, emulator):
    token = _refresh_token(emulator, proto)["access_token"]
    emulator.fault("batch", "status", status=503, retry_after=2)
    response = proto.graph("/$batch", token, method="POST", body={"requests": [
        {"id": "1", "method": "GET", "url": "/me"}]})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"


def test_status_fault_on_authorize_is_an_error_page(proto, emulator):
    emulator.fault("authorize", "status", status=503)
    with pytest.raises(SignInError) as caught:
        emulator.sign_in(proto.authorize_url(), proto.ADELE)
    assert caught.value.status == 503
    assert "AADSTS90033" in caught.value.page


def test_latency(proto, emulator):
    emulator.latency(0.3)
    started = time.monotonic()
    _get(proto, OPENID)
    assert time.monotonic() - started >= 0.3
    emulator.reset()
    started = time.monotonic()
    _get(proto, OPENID)
    assert time.monotonic() - started < 0.3


def test_log_counts_requests_per_endpoint(proto, emulator):
    tokens = proto.redeem().json()
    proto.refresh(tokens["refresh_token"])
    proto.graph("/me", tokens["access_token"])
    proto.graph("/me/drive", tokens["access_token"])
    proto.graph("/$batch", tokens["access_token"], method="POST", body={"requests": [
        {"id": "1", "method": "GET", "url": "/me"}]})
    log = emulator.log()
    assert log["counts"] == {"authorize": 1, "signin": 1, "consent": 1, "token": 2, "me": 1, "drive": 1, "batch": 1}
    assert log["requests"][0] == {"method": "GET", "path": "/common/oauth2/v2.0/authorize",
                                  "endpoint": "authorize", "status": 200}
    emulator.clear_log()
    assert emulator.log() == {"requests": [], "counts": {}}


def test_issued_lists_every_secret(proto, emulator):
    code, verifier = proto.code()
    tokens = proto.token(client_id=proto.PUBLIC, grant_type="authorization_code", code=code,
                         redirect_uri=proto.NATIVE, code_verifier=verifier).json()
    proto.refresh("1.AXsent-but-never-issued")
    issued = emulator.issued()
    for secret in (code, verifier, tokens["access_token"], tokens["refresh_token"], tokens["id_token"],
                   proto.SECRET, "1.AXsent-but-never-issued"):
        assert secret in issued


def test_reset_forgets_grants_faults_and_clock(proto, emulator, login_error):
    tokens = _refresh_token(emulator, proto)
    emulator.fault("*", "status", count=5, status=500)
    emulator.strict(True)
    before = emulator.advance_clock(0)
    emulator.advance_clock(10 * 86400)
    emulator.reset()
    assert emulator.advance_clock(0) < before + 5
    assert emulator.issued() == [proto.SECRET]
    login_error(proto.refresh(tokens["refresh_token"]), 400, "invalid_grant", 9002313)


def test_grant_returns_a_token_response(proto, emulator):
    body = emulator.grant(proto.PUBLIC, proto.MEGAN, "User.Read Files.Read openid", tenant="consumers")
    assert set(body) == {"token_type", "scope", "expires_in", "ext_expires_in", "access_token", "id_token"}
    assert proto.graph("/me", body["access_token"]).json()["userPrincipalName"] == proto.MEGAN


@pytest.mark.parametrize(("call", "message"), [
    (lambda e: e.grant("8c2a9f4e-6b1d-4f3a-9e2c-7d5b0a1c3e22", "megan@outlook.com", ["User.Read"]), "AADSTS50020"),
    (lambda e: e.grant("3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11", "nobody@example.com", ["User.Read"]), "unknown user"),
    (lambda e: e.grant("3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11", "adele@contoso.onmicrosoft.com", ["X.Y"]),
     "AADSTS70011"),
    (lambda e: e.fault("nowhere", "status"), "unknown endpoint"),
    (lambda e: e.fault("token", "explode"), "unknown fault kind"),
    (lambda e: e.fault("token", "delay"), "needs delay"),
    (lambda e: e.revoke("nobody@example.com"), "unknown user"),
    (lambda e: e.advance_clock(-1), "only moves forward"),
    (lambda e: e.latency(-1), "must not be negative"),
])
def test_control_api_rejects_bad_calls(emulator, call, message):
    with pytest.raises(EmulatorError, match=message):
        call(emulator)


def test_control_requests_are_not_logged(emulator):
    emulator.log()
    emulator.issued()
    assert emulator.log()["requests"] == []
