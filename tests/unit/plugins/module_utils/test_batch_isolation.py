"""One connection's surprise stays its own (issue 20, item 3): the batch reports it with a reason and still returns
every token rotated in the run, that connection's own new refresh token included; tokens no HTTP header can carry
are refused, stored or answered."""

from __future__ import annotations

import pytest

from ansible_collections.onedrive.connection.plugins.module_utils import batch, rotation
from ansible_collections.onedrive.connection.plugins.module_utils.endpoints import endpoints
from ansible_collections.onedrive.connection.plugins.module_utils.tokens import Client, header_safe
from ansible_collections.onedrive.connection.plugins.module_utils.transport import Transport
from ansible_collections.onedrive.connection.plugins.module_utils.verification import verify
from ansible_collections.onedrive.connection.plugins.modules import verify as verify_module

CLIENT_ID = "3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11"
WORK_ID = "2f1e0d9c-8b7a-4f6e-9d5c-4b3a2f1e0d9c"
NOT_DUE = dict(rotated_at="2999-01-01T00:00:00Z")
FRESH_ACCESS = dict(access_token="stored-access", access_token_expires_at="2999-01-01T00:00:00Z")
# Characters no HTTP header carries as they are: beyond Latin-1, beyond ASCII, DEL, and a tab.
ODD = ["acc\u2019ess-SECRET", "acc\u00e9ss-SECRET", "acc\x7fess-SECRET", "acc\tess-SECRET"]


def token_answer(access_token="new-access", refresh_token="new-refresh"):
    return dict(
        token_type="Bearer", expires_in=3600, access_token=access_token, refresh_token=refresh_token,
        scope="https://graph.microsoft.com/User.Read https://graph.microsoft.com/Files.Read",
    )


def graph_answer():
    return {"responses": [
        {"id": "me", "status": 200, "body": {"id": WORK_ID, "displayName": "U", "userPrincipalName": "u@contoso.com"}},
        {"id": "drive", "status": 200, "body": {"id": "d", "driveType": "business"}},
    ]}


def params(**overrides):
    values = {name: option.get("default") for name, option in batch.argument_spec().items()}
    values.update(
        client_id=CLIENT_ID, login_url="https://login.example", graph_url="https://graph.example", max_workers=1
    )
    values.update(overrides)
    return values


def rotate(connections, check_mode=False, **options):
    return batch.rotate(params(**options), batch.selected(connections, None), check_mode)


def test_header_safe_admits_visible_ascii_only():
    assert header_safe("0.AXEA-_~.*!$%&'()+,/:;=?@[]^`{|}~aZ9")
    assert not any(header_safe(token) for token in ["", " ", "a b", *ODD, "a\r\nb", "a\x00b"])


def test_an_unexpected_error_after_the_refresh_keeps_its_new_token_and_every_other(fake_http):
    fake_http.answer(200, token_answer(refresh_token="new-refresh-1"))
    # What http.client raised for an access token it could not encode, quoting part of the request.
    fake_http.fail(UnicodeEncodeError("latin-1", "Bearer acc\u2019ess-SECRET", 10, 11, "ordinal not in range(256)"))
    fake_http.answer(200, token_answer(refresh_token="new-refresh-2"))
    fake_http.answer(200, graph_answer())

    result, failure = rotate({"crashed": dict(refresh_token="old-1"), "fine": dict(refresh_token="old-2")})

    assert result["statuses"]["failed"] == ["crashed"] and result["statuses"]["rotated"] == ["fine"]
    outcome = result["connection_results"]["crashed"]
    assert outcome["reason"] == "unexpected_response" and outcome["needs_authorization"] is False
    assert "UnicodeEncodeError" in outcome["msg"] and "connections.crashed.refresh_token" in outcome["msg"]
    assert "Graph" in outcome["msg"] and "SECRET" not in outcome["msg"] and "latin-1" not in outcome["msg"]
    assert failure == "1 of 2 connections failed (crashed: unexpected_response)."
    # The service rotated the failed connection's token: the new one is what must be stored.
    assert result["updates"]["crashed"]["refresh_token"] == "new-refresh-1"
    assert "verified_at" not in result["updates"]["crashed"]
    assert result["updates"]["fine"]["refresh_token"] == "new-refresh-2"
    assert result["updates"]["fine"]["verified_at"]


def test_an_unexpected_error_at_the_token_endpoint_fails_only_its_connection(fake_http):
    fake_http.fail(RuntimeError("echoing old-1-SECRET"))
    fake_http.answer(200, token_answer())
    fake_http.answer(200, graph_answer())

    result, dummy = rotate({"crashed": dict(refresh_token="old-1-SECRET"), "fine": dict(refresh_token="old-2")})

    outcome = result["connection_results"]["crashed"]
    assert outcome["reason"] == "unexpected_response" and "RuntimeError" in outcome["msg"]
    assert "token endpoint" in outcome["msg"] and "SECRET" not in outcome["msg"]
    assert "crashed" not in result["updates"] and result["statuses"]["rotated"] == ["fine"]


def test_an_unexpected_error_before_any_request_fails_only_its_connection(fake_http, monkeypatch):
    planned = rotation.plan

    def plan(record, now, policy):
        if record.get("refresh_token") == "old-1-SECRET":
            raise TypeError("cannot read old-1-SECRET")
        return planned(record, now, policy)

    monkeypatch.setattr(rotation, "plan", plan)
    fake_http.answer(200, token_answer())
    fake_http.answer(200, graph_answer())

    result, failure = rotate({"odd": dict(refresh_token="old-1-SECRET"), "fine": dict(refresh_token="old-2")})

    outcome = result["connection_results"]["odd"]
    assert outcome["reason"] == "invalid_option" and "TypeError" in outcome["msg"]
    assert "connections.odd" in outcome["msg"] and "SECRET" not in outcome["msg"]
    assert list(result["updates"]) == ["fine"] and "odd: invalid_option" in failure


@pytest.mark.parametrize("token", ODD)
@pytest.mark.parametrize(
    "record, field",
    [
        (lambda token: dict(refresh_token="old", **NOT_DUE, **dict(FRESH_ACCESS, access_token=token)), "access_token"),
        (lambda token: dict(refresh_token=token), "refresh_token"),
    ],
    ids=["stored access_token", "stored refresh_token"],
)
def test_a_stored_token_http_cannot_carry_is_refused_alone_without_a_request(fake_http, token, record, field):
    fake_http.answer(200, token_answer())
    fake_http.answer(200, graph_answer())

    result, failure = rotate({"odd": record(token), "fine": dict(refresh_token="old-2")}, check_not_due=True)

    outcome = result["connection_results"]["odd"]
    assert outcome["reason"] == "token_invalid" and f"connections.odd.{field} holds" in outcome["msg"]
    assert "SECRET" not in outcome["msg"]
    assert result["statuses"]["rotated"] == ["fine"] and list(result["updates"]) == ["fine"]
    assert len(fake_http.requests) == 2 and "odd: token_invalid" in failure


def test_check_mode_refuses_a_stored_refresh_token_http_cannot_carry(fake_http):
    result, dummy = rotate({"odd": dict(refresh_token=ODD[0]), "fine": dict(refresh_token="old")}, check_mode=True)
    assert result["statuses"] == dict(rotated=[], verified=[], not_due=[], skipped=["fine"], claimed=[], failed=["odd"])
    assert result["connection_results"]["odd"]["reason"] == "token_invalid"
    assert fake_http.requests == []


@pytest.mark.parametrize("token", ODD)
def test_an_answered_access_token_http_cannot_carry_fails_but_its_refresh_token_is_kept(fake_http, token):
    fake_http.answer(200, token_answer(access_token=token, refresh_token="new-refresh-1"))
    fake_http.answer(200, token_answer(refresh_token="new-refresh-2"))
    fake_http.answer(200, graph_answer())

    result, dummy = rotate({"odd": dict(refresh_token="old-1"), "fine": dict(refresh_token="old-2")})

    outcome = result["connection_results"]["odd"]
    assert outcome["reason"] == "unexpected_response" and "access token" in outcome["msg"]
    assert outcome["refresh_token_rotated"] is True and "SECRET" not in repr(result["connection_results"])
    # Stored: the new refresh token; not stored: an access token that could never be sent (the old one stays).
    update = result["updates"]["odd"]
    assert update["refresh_token"] == "new-refresh-1" and update["rotated_at"]
    assert not {"access_token", "access_token_expires_at", "verified_at"} & set(update)
    assert result["updates"]["fine"]["refresh_token"] == "new-refresh-2"
    # Graph was asked for the fine connection alone.
    assert [request["url"] for request in fake_http.requests].count("https://graph.example/v1.0/$batch") == 1


@pytest.mark.parametrize("token", ODD)
def test_an_answered_refresh_token_http_cannot_carry_is_not_stored(fake_http, token):
    fake_http.answer(200, token_answer(refresh_token=token))
    fake_http.answer(200, token_answer(refresh_token="new-refresh-2"))
    fake_http.answer(200, graph_answer())

    result, dummy = rotate({"odd": dict(refresh_token="old-1"), "fine": dict(refresh_token="old-2")})

    outcome = result["connection_results"]["odd"]
    assert outcome["reason"] == "unexpected_response" and "refresh token" in outcome["msg"]
    assert "SECRET" not in outcome["msg"] and list(result["updates"]) == ["fine"]


# verify, as the verify module runs it: the same refusals, naming the option.

@pytest.fixture
def transport():
    with Transport(sleep=lambda seconds: None) as transport:
        yield transport


def client(transport):
    return Client(transport, endpoints(login_url="https://login.example", graph_url="https://graph.example"), CLIENT_ID)


@pytest.mark.parametrize("option", ["refresh_token", "access_token"])
@pytest.mark.parametrize("token", ODD)
def test_verify_refuses_an_option_http_cannot_carry(fake_http, transport, option, token):
    result = verify(transport, client(transport), **{option: token}).result()
    assert result["reason"] == "token_invalid" and result["msg"].startswith(f"{option} holds")
    assert "SECRET" not in result["msg"] and fake_http.requests == []


def test_verify_returns_the_rotated_refresh_token_of_an_answer_whose_access_token_is_unusable(fake_http, transport):
    fake_http.answer(200, token_answer(access_token=ODD[0]))
    result = verify(transport, client(transport), refresh_token="old").result()
    assert result["failed"] is True and result["reason"] == "unexpected_response"
    assert result["refresh_token"] == "new-refresh" and result["refresh_token_rotated"] is True
    assert "access_token" not in result and "access_token_expires_at" not in result
    assert "offline_access" in result["granted_scopes"] and len(fake_http.requests) == 1


def test_verify_turns_a_surprise_into_a_result(fake_http, transport):
    fake_http.answer(200, token_answer())
    fake_http.fail(ValueError("new-access SECRET"))
    result = verify(transport, client(transport), refresh_token="old").result()
    assert result["reason"] == "unexpected_response" and "ValueError" in result["msg"]
    assert "SECRET" not in result["msg"] and result["refresh_token"] == "new-refresh"


def test_the_verify_module_refuses_such_a_refresh_token_in_check_mode_too(run_module, fake_http):
    result = run_module(verify_module.main, dict(client_id=CLIENT_ID, refresh_token=ODD[0]), check_mode=True)
    assert result["failed"] is True and result["reason"] == "token_invalid"
    assert result["msg"].startswith("refresh_token holds") and fake_http.requests == []
