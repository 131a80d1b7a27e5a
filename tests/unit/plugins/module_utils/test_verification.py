from __future__ import annotations

import base64
import json
import re
import urllib.parse

import pytest

from ansible_collections.onedrive.connection.plugins.module_utils.endpoints import endpoints
from ansible_collections.onedrive.connection.plugins.module_utils.tokens import Client
from ansible_collections.onedrive.connection.plugins.module_utils.transport import Transport
from ansible_collections.onedrive.connection.plugins.module_utils.verification import (
    CONSUMER_TENANT_ID,
    covering,
    verify,
)

CLIENT_ID = "3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11"
OLD = "old-refresh-token"
NEW = "new-refresh-token"
ACCESS = "access-token"
WORK_ID = "2f1e0d9c-8b7a-4f6e-9d5c-4b3a2f1e0d9c"
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def token_answer(scope="https://graph.microsoft.com/User.Read https://graph.microsoft.com/Files.Read", **extra):
    answer = dict(token_type="Bearer", scope=scope, expires_in=3600, access_token=ACCESS, refresh_token=NEW)
    answer.update(extra)
    return {key: value for key, value in answer.items() if value is not None}


def batch(user_id=WORK_ID, drive_status=200):
    # A personal account has a personal drive, as Graph answers.
    drive_type = "business" if user_id == WORK_ID else "personal"
    drive = {"id": "d", "driveType": drive_type} if drive_status == 200 else {"error": {"code": "x"}}
    return {
        "responses": [
            {"id": "me", "status": 200, "body": {"id": user_id, "displayName": "U"}},
            {"id": "drive", "status": drive_status, "body": drive},
        ]
    }


@pytest.fixture
def transport():
    with Transport(sleep=lambda seconds: None) as transport:
        yield transport


def client(transport, tenant="common"):
    return Client(
        transport,
        endpoints(tenant=tenant, login_url="https://login.example", graph_url="https://graph.example"),
        CLIENT_ID,
    )


def test_refresh_then_one_batch(fake_http, transport):
    fake_http.answer(200, token_answer())
    fake_http.answer(200, batch())
    verification = verify(transport, client(transport), refresh_token=OLD)
    assert [request["url"] for request in fake_http.requests] == [
        "https://login.example/common/oauth2/v2.0/token",
        "https://graph.example/v1.0/$batch",
    ]
    assert fake_http.requests[0]["data"]["refresh_token"] == OLD
    assert fake_http.requests[1]["headers"]["Authorization"] == f"Bearer {ACCESS}"
    result = verification.result()
    assert verification.error is None and "failed" not in result
    assert result["changed"] is False
    assert (result["refresh_token"], result["refresh_token_rotated"], result["access_token"]) == (NEW, True, ACCESS)
    assert result["granted_scopes"] == ["User.Read", "Files.Read", "offline_access"]
    assert result["user"]["id"] == WORK_ID and result["drive"]["id"] == "d"
    assert TIMESTAMP.fullmatch(result["verified_at"]) and TIMESTAMP.fullmatch(result["access_token_expires_at"])
    assert result["tenant_id"] is None


def test_scopes_go_into_the_refresh_request(fake_http, transport):
    fake_http.answer(200, token_answer())
    fake_http.answer(200, batch())
    verify(transport, client(transport), refresh_token=OLD, scopes=["User.Read", "Files.Read"])
    assert fake_http.requests[0]["data"]["scope"] == "User.Read Files.Read"


def test_an_unrotated_token_is_not_returned(fake_http, transport):
    fake_http.answer(200, token_answer(refresh_token=OLD))
    fake_http.answer(200, batch())
    result = verify(transport, client(transport), refresh_token=OLD).result()
    assert result["refresh_token_rotated"] is False and "refresh_token" not in result


@pytest.mark.parametrize(
    "required, covered_by",
    [
        ("Files.Read", {"files.read", "files.read.all", "files.readwrite", "files.readwrite.all"}),
        (
            "https://graph.microsoft.com/Files.Read",
            {"files.read", "files.read.all", "files.readwrite", "files.readwrite.all"},
        ),
        ("Files.ReadWrite", {"files.readwrite", "files.readwrite.all"}),
        ("Files.Read.All", {"files.read.all", "files.readwrite.all"}),
        ("Files.ReadWrite.AppFolder", {"files.readwrite.appfolder"}),
        ("User.Read", {"user.read", "user.read.all", "user.readwrite", "user.readwrite.all"}),
        ("offline_access", {"offline_access"}),
        ("openid", {"openid"}),
    ],
)
def test_covering(required, covered_by):
    assert covering(required) == covered_by


@pytest.mark.parametrize(
    "files_scope", ["Files.Read", "files.read.all", "https://graph.microsoft.com/Files.ReadWrite.All"]
)
def test_any_files_read_or_better_satisfies_the_default(fake_http, transport, files_scope):
    fake_http.answer(200, token_answer(scope=f"User.Read {files_scope}"))
    fake_http.answer(200, batch())
    assert verify(transport, client(transport), refresh_token=OLD).error is None


def test_missing_scope_fails_before_graph_and_keeps_the_rotated_token(fake_http, transport):
    fake_http.answer(200, token_answer(scope="User.Read Files.ReadWrite.AppFolder"))
    verification = verify(transport, client(transport), refresh_token=OLD)
    assert len(fake_http.requests) == 1
    result = verification.result()
    assert (result["failed"], result["reason"]) == (True, "missing_scope")
    assert "lacks Files.Read " in result["msg"]
    assert (result["refresh_token"], result["refresh_token_rotated"]) == (NEW, True)
    assert "user" not in result


def test_every_missing_scope_is_named(fake_http, transport):
    fake_http.answer(200, token_answer(scope="openid"))
    required = ["offline_access", "User.Read", "Files.ReadWrite"]
    msg = verify(transport, client(transport), refresh_token=OLD, required_scopes=required).error.msg
    assert "lacks User.Read and Files.ReadWrite " in msg


def test_unknown_grant_is_left_to_graph(fake_http, transport):
    fake_http.answer(200, token_answer(scope=None))
    fake_http.answer(200, batch())
    result = verify(transport, client(transport), refresh_token=OLD).result()
    assert result["granted_scopes"] is None and "failed" not in result


def test_graph_failure_after_refresh_keeps_the_rotated_token(fake_http, transport):
    fake_http.answer(200, token_answer())
    fake_http.answer(200, batch(drive_status=404))
    result = verify(transport, client(transport), refresh_token=OLD).result()
    assert result["reason"] == "no_drive"
    assert (result["refresh_token"], result["access_token"]) == (NEW, ACCESS)


@pytest.mark.parametrize(
    "code, reason",
    [(700082, "token_expired"), (50173, "token_revoked"), (9002313, "token_invalid")],
)
def test_refused_refresh_token_says_to_authorize_again(fake_http, transport, code, reason):
    fake_http.answer(400, {"error": "invalid_grant", "error_description": f"AADSTS{code}: nope", "error_codes": [code]})
    result = verify(transport, client(transport), refresh_token=OLD).result()
    assert len(fake_http.requests) == 1
    assert result["reason"] == reason and "authorize the connection again" in result["msg"]
    assert result["refresh_token_rotated"] is False
    assert not {"refresh_token", "access_token", "granted_scopes"} & result.keys()


def test_access_token_asks_graph_only_and_compares_no_scope(fake_http, transport):
    fake_http.answer(200, batch())
    verification = verify(transport, client(transport), access_token=ACCESS, required_scopes=["Sites.FullControl.All"])
    assert [request["url"] for request in fake_http.requests] == ["https://graph.example/v1.0/$batch"]
    result = verification.result()
    assert "failed" not in result and result["refresh_token_rotated"] is False
    assert not {"refresh_token", "access_token", "granted_scopes", "access_token_expires_at"} & result.keys()


@pytest.mark.parametrize("option", ["refresh_token", "access_token"])
def test_empty_token_fails_without_a_request(fake_http, transport, option):
    result = verify(transport, client(transport), **{option: " "}).result()
    assert (result["reason"], fake_http.requests) == ("invalid_option", [])
    assert option in result["msg"]


@pytest.mark.parametrize("tokens", [{}, {"refresh_token": OLD, "access_token": ACCESS}])
def test_exactly_one_token(transport, tokens):
    with pytest.raises(ValueError):
        verify(transport, client(transport), **tokens)


def _id_token(claims):
    encode = lambda part: base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")  # noqa: E731
    return f"{encode({'alg': 'none'})}.{encode(claims)}.sig"


@pytest.mark.parametrize(
    "tenant, answer, user_id, expected",
    [
        (
            "common",
            token_answer(id_token=_id_token({"tid": "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"})),
            WORK_ID,
            "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
        ),
        ("common", token_answer(), "a1b2c3d4e5f60718", CONSUMER_TENANT_ID),
        ("consumers", token_answer(), "a1b2c3d4e5f60718", CONSUMER_TENANT_ID),
        ("5F3C2A1E-8B7D-4E6F-9A0B-1C2D3E4F5A6B", token_answer(), WORK_ID, "5f3c2a1e-8b7d-4e6f-9a0b-1c2d3e4f5a6b"),
        ("contoso.onmicrosoft.com", token_answer(), WORK_ID, None),
    ],
)
def test_tenant_id_where_known(fake_http, transport, tenant, answer, user_id, expected):
    fake_http.answer(200, answer)
    fake_http.answer(200, batch(user_id=user_id))
    result = verify(transport, client(transport, tenant), refresh_token=OLD).result()
    assert result["tenant_id"] == expected
    assert urllib.parse.urlsplit(fake_http.requests[0]["url"]).path.split("/")[1] == tenant


@pytest.mark.parametrize("token", ["SECRET-TOKEN\nX", "SECRET TOKEN", "SECRET\x00TOKEN"])
def test_a_token_with_whitespace_inside_is_refused_without_being_shown(fake_http, transport, token):
    result = verify(transport, client(transport), access_token=token)
    assert result.error.reason == "token_invalid" and "SECRET" not in result.error.msg
    assert fake_http.requests == []


def test_surrounding_whitespace_is_dropped(fake_http, transport):
    fake_http.answer(200, batch())
    verify(transport, client(transport), access_token=f" {ACCESS}\n")
    assert fake_http.requests[0]["headers"]["Authorization"] == f"Bearer {ACCESS}"
