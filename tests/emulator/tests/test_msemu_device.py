"""The device authorization grant: /devicecode, the /devicelogin page and polling the token endpoint."""

from __future__ import annotations

import pytest
import requests
from msemu.client import SignInError

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def _start(proto, client_id=None, tenant="common", scope="User.Read Files.Read offline_access"):
    return requests.post(f"{proto.base}/{tenant}/oauth2/v2.0/devicecode",
                         data={"client_id": client_id or proto.PUBLIC, "scope": scope}, verify=proto.ca, timeout=30)


def _poll(proto, device_code, client_id=None):
    return proto.token(client_id=client_id or proto.PUBLIC, grant_type=DEVICE_GRANT, device_code=device_code)


def test_devicecode_response(proto):
    response = _start(proto)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"user_code", "device_code", "verification_uri", "expires_in", "interval", "message"}
    assert body["verification_uri"] == f"{proto.base}/devicelogin"
    assert (body["expires_in"], body["interval"]) == (900, 5)
    assert body["user_code"] in body["message"] and body["verification_uri"] in body["message"]


@pytest.mark.parametrize(("data", "error", "code"), [
    ({"scope": "User.Read"}, "invalid_request", 900144),
    ({"client_id": "3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11"}, "invalid_request", 900144),
    ({"client_id": "00000000-1111-4222-8333-444444444444", "scope": "User.Read"}, "unauthorized_client", 700016),
    ({"client_id": "3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11", "scope": "Nope.Nope"}, "invalid_scope", 70011),
])
def test_devicecode_errors(proto, login_error, data, error, code):
    response = requests.post(f"{proto.base}/common/oauth2/v2.0/devicecode", data=data, verify=proto.ca, timeout=30)
    login_error(response, 400, error, code)


def test_pending_then_slow_down_then_success(proto, emulator, login_error):
    start = _start(proto).json()
    login_error(_poll(proto, start["device_code"]), 400, "authorization_pending", 70016)
    login_error(_poll(proto, start["device_code"]), 400, "slow_down", 70016)
    emulator.advance_clock(10)  # the interval grew to 10 s
    login_error(_poll(proto, start["device_code"]), 400, "authorization_pending", 70016)
    page = emulator.device_sign_in(start["user_code"], proto.ADELE)
    assert "You have signed in" in page
    body = _poll(proto, start["device_code"]).json()
    assert {"access_token", "refresh_token"} <= set(body)
    login_error(_poll(proto, start["device_code"]), 400, "invalid_grant", 54005)


def test_declined(proto, emulator, login_error):
    start = _start(proto).json()
    emulator.device_sign_in(start["user_code"], proto.ADELE, consent=False)
    login_error(_poll(proto, start["device_code"]), 400, "authorization_declined", 65004)


def test_expired(proto, emulator, login_error):
    start = _start(proto).json()
    emulator.advance_clock(901)
    login_error(_poll(proto, start["device_code"]), 400, "expired_token", 70020)
    with pytest.raises(SignInError):
        emulator.device_sign_in(start["user_code"], proto.ADELE)


def test_unknown_device_code(proto, login_error):
    login_error(_poll(proto, "DAQABIQEAAADnothing"), 400, "bad_verification_code", 70018)


def test_public_client_flows_off(proto, login_error):
    start = _start(proto, proto.NO_PUBLIC_FLOWS).json()
    login_error(_poll(proto, start["device_code"], proto.NO_PUBLIC_FLOWS), 401, "invalid_client", 7000218)


def test_wrong_user_code_is_refused(proto, emulator):
    with pytest.raises(SignInError) as caught:
        emulator.device_sign_in("NOTACODE1", proto.ADELE)
    assert caught.value.status == 400


def test_user_code_is_single_use(proto, emulator):
    start = _start(proto).json()
    emulator.device_sign_in(start["user_code"], proto.ADELE)
    with pytest.raises(SignInError):
        emulator.device_sign_in(start["user_code"], proto.ADELE)


def test_audience_applies_to_device_sign_in(proto, emulator, login_error):
    start = _start(proto, tenant="organizations").json()
    with pytest.raises(SignInError) as caught:
        emulator.device_sign_in(start["user_code"], proto.MEGAN)
    assert "AADSTS50020" in caught.value.page


def test_device_answer_shapes_the_next_answers(proto, emulator):
    emulator.device_answer(interval=2, expires_in=60, omit=["interval", "message"], complete=True)
    body = _start(proto).json()
    assert set(body) == {"user_code", "device_code", "verification_uri", "verification_uri_complete", "expires_in"}
    assert body["expires_in"] == 60
    assert body["verification_uri_complete"] == f"{proto.base}/devicelogin?otc={body['user_code']}"
    page = requests.get(body["verification_uri_complete"], verify=proto.ca, timeout=30)
    assert f'value="{body["user_code"]}"' in page.text
    emulator.reset()
    assert set(_start(proto).json()) == {"user_code", "device_code", "verification_uri", "expires_in", "interval",
                                         "message"}


def test_device_answer_refuses_what_it_cannot_leave_out(emulator):
    from msemu.client import EmulatorError

    with pytest.raises(EmulatorError):
        emulator.device_answer(omit=["device_code"])


def test_polls_on_time_get_no_slow_down(proto, emulator, login_error):
    emulator.device_answer(interval=1)
    start = _start(proto).json()
    login_error(_poll(proto, start["device_code"]), 400, "authorization_pending", 70016)
    emulator.advance_clock(1)
    login_error(_poll(proto, start["device_code"]), 400, "authorization_pending", 70016)
