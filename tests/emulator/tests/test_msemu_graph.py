"""Graph /me, /me/drive and $batch: bodies, authentication and permission errors."""

from __future__ import annotations

import re

import pytest

ALL = ["User.Read", "Files.Read", "offline_access"]


def _token(emulator, proto, user=None, scopes=None, client_id=None):
    return emulator.grant(client_id or proto.PUBLIC, user or proto.ADELE, scopes or ALL)["access_token"]


def _assert_graph_error(response, status, code):
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    inner = error["innerError"]
    assert set(inner) == {"date", "request-id", "client-request-id"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", inner["date"])
    assert response.headers["request-id"] == inner["request-id"]
    return error


def test_me_for_a_work_account(proto, emulator):
    response = proto.graph("/me", _token(emulator, proto))
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    me = response.json()
    assert me["@odata.context"] == f"{proto.base}/v1.0/$metadata#users/$entity"
    assert me["id"] == "b5a1c2d3-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    assert (me["displayName"], me["givenName"], me["surname"]) == ("Adele Vance", "Adele", "Vance")
    assert me["userPrincipalName"] == me["mail"] == proto.ADELE


def test_me_for_a_personal_account(proto, emulator):
    me = proto.graph("/me", _token(emulator, proto, proto.MEGAN)).json()
    assert re.fullmatch(r"[0-9a-f]{16}", me["id"])
    assert me["mail"] is None
    assert me["userPrincipalName"] == proto.MEGAN


def test_business_drive(proto, emulator):
    drive = proto.graph("/me/drive", _token(emulator, proto)).json()
    assert drive["@odata.context"] == f"{proto.base}/v1.0/$metadata#drives/$entity"
    assert drive["driveType"] == "business"
    assert drive["id"].startswith("b!")
    assert drive["owner"]["user"]["id"] == "b5a1c2d3-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    assert drive["owner"]["user"]["displayName"] == "Adele Vance"
    quota = drive["quota"]
    assert set(quota) == {"total", "used", "remaining", "deleted", "state"}
    assert quota["remaining"] == quota["total"] - quota["used"]
    assert quota["state"] == "normal"


def test_personal_drive_and_quota_states(proto, emulator):
    personal = proto.graph("/me/drive", _token(emulator, proto, proto.MEGAN)).json()
    assert personal["driveType"] == "personal"
    assert personal["owner"]["user"]["id"] == personal["id"]
    nearing = proto.graph("/me/drive", _token(emulator, proto, proto.ALEX)).json()
    assert nearing["quota"]["state"] == "nearing"


def test_user_without_drive_is_404(proto, emulator):
    _assert_graph_error(proto.graph("/me/drive", _token(emulator, proto, proto.NODRIVE)), 404, "ResourceNotFound")


def test_drive_needs_a_files_scope(proto, emulator):
    token = _token(emulator, proto, scopes=["User.Read"])
    _assert_graph_error(proto.graph("/me/drive", token), 403, "accessDenied")
    token = _token(emulator, proto, scopes=["Files.ReadWrite.AppFolder", "User.Read"])
    _assert_graph_error(proto.graph("/me/drive", token), 403, "accessDenied")


def test_me_needs_a_user_scope(proto, emulator):
    _assert_graph_error(proto.graph("/me", _token(emulator, proto, scopes=["Files.Read"])), 403,
                        "Authorization_RequestDenied")


@pytest.mark.parametrize("header", [None, "Bearer ", "Basic abc", "Bearer EwB4A8l6BAAUforged", "Bearer a.b.c"])
def test_missing_or_unknown_token_is_401(proto, header):
    headers = {"Authorization": header} if header is not None else {}
    response = proto.graph("/me", None, headers=headers)
    _assert_graph_error(response, 401, "InvalidAuthenticationToken")
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")


def test_expired_token_is_401(proto, emulator):
    body = emulator.grant(proto.PUBLIC, proto.ADELE, ALL)
    emulator.advance_clock(body["expires_in"])
    error = _assert_graph_error(proto.graph("/me", body["access_token"]), 401, "InvalidAuthenticationToken")
    assert "expired" in error["message"]


def test_client_request_id_is_echoed(proto):
    crid = "7a1c2e3f-0000-4000-8000-000000000001"
    response = proto.graph("/me", None, headers={"client-request-id": crid})
    assert response.headers["client-request-id"] == crid
    assert response.json()["error"]["innerError"]["client-request-id"] == crid


def test_unknown_graph_path_and_method(proto, emulator):
    token = _token(emulator, proto)
    _assert_graph_error(proto.graph("/me/photos", token), 400, "BadRequest")
    _assert_graph_error(proto.graph("/me", token, method="POST", body={}), 405, "Request_BadRequest")


def _batch(proto, token, requests_):
    return proto.graph("/$batch", token, method="POST", body={"requests": requests_})


def test_batch_answers_each_request_by_id(proto, emulator):
    response = _batch(proto, _token(emulator, proto), [
        {"id": "1", "method": "GET", "url": "/me"}, {"id": "2", "method": "GET", "url": "/me/drive"}])
    assert response.status_code == 200
    responses = response.json()["responses"]
    assert [r["id"] for r in responses] == ["2", "1"]  # not in request order, as Graph may do
    by_id = {r["id"]: r for r in responses}
    assert by_id["1"]["status"] == by_id["2"]["status"] == 200
    assert by_id["1"]["body"]["userPrincipalName"] == proto.ADELE
    assert by_id["2"]["body"]["driveType"] == "business"
    assert by_id["1"]["headers"]["Content-Type"].startswith("application/json")


def test_batch_inner_errors(proto, emulator):
    token = _token(emulator, proto, proto.NODRIVE, ["User.Read"])
    responses = {r["id"]: r for r in _batch(proto, token, [
        {"id": "a", "method": "GET", "url": "me/drive"}, {"id": "b", "method": "GET", "url": "/users"},
        {"id": "c", "method": "DELETE", "url": "/me"}]).json()["responses"]}
    assert responses["a"]["status"] == 403
    assert responses["a"]["body"]["error"]["code"] == "accessDenied"
    assert responses["b"]["status"] == 400
    assert responses["c"]["status"] == 405


def test_batch_inner_404_for_a_user_without_drive(proto, emulator):
    token = _token(emulator, proto, proto.NODRIVE)
    responses = _batch(proto, token, [{"id": "1", "method": "GET", "url": "/me/drive"}]).json()["responses"]
    assert responses[0]["status"] == 404
    assert responses[0]["body"]["error"]["code"] == "ResourceNotFound"


@pytest.mark.parametrize("body", [
    {"requests": []},
    {"requests": [{"id": "1", "method": "GET"}]},
    {"requests": [{"id": "1", "method": "GET", "url": "/me"}, {"id": "1", "method": "GET", "url": "/me"}]},
    {"requests": [{"id": str(i), "method": "GET", "url": "/me"} for i in range(21)]},
    {"nothing": 1},
])
def test_batch_payload_errors(proto, emulator, body):
    response = proto.graph("/$batch", _token(emulator, proto), method="POST", body=body)
    _assert_graph_error(response, 400, "BadRequest")


def test_batch_without_token_is_401(proto):
    response = _batch(proto, None, [{"id": "1", "method": "GET", "url": "/me"}])
    _assert_graph_error(response, 401, "InvalidAuthenticationToken")
