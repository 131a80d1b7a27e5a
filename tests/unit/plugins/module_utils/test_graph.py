from __future__ import annotations

import pytest

from ansible_collections.onedrive.connection.plugins.module_utils import graph
from ansible_collections.onedrive.connection.plugins.module_utils.endpoints import endpoints
from ansible_collections.onedrive.connection.plugins.module_utils.errors import OneDriveError
from ansible_collections.onedrive.connection.plugins.module_utils.transport import Transport

ENDPOINTS = endpoints(graph_url="https://graph.example/")
TOKEN = "eyJ0eXAi.access-token-value.sig"
WORK_USER = {
    "id": "2f1e0d9c-8b7a-4f6e-9d5c-4b3a2f1e0d9c",
    "displayName": "Adele Vance",
    "userPrincipalName": "adele@contoso.onmicrosoft.com",
    "mail": "adele@contoso.com",
    "givenName": "Adele",
}
PERSONAL_USER = {
    "id": "a1b2c3d4e5f60718",
    "displayName": "Megan",
    "userPrincipalName": "megan@outlook.com",
    "mail": None,
}
DRIVE = {
    "id": "b!drive-id",
    "driveType": "business",
    "owner": {"user": {"id": WORK_USER["id"], "displayName": "Adele Vance"}},
    "quota": {"total": 1000, "used": 10, "remaining": 990, "deleted": 1, "state": "normal", "fileCount": 3},
}


def sub(name, status=200, body=None, headers=None):
    return {"id": name, "status": status, "headers": headers or {"Content-Type": "application/json"}, "body": body}


def graph_error(code, message="Something failed.", request_id="req-1", client_request_id="client-1"):
    inner = {"date": "2025-03-01T08:30:00", "request-id": request_id, "client-request-id": client_request_id}
    return {"error": {"code": code, "message": message, "innerError": inner}}


def batch(*responses):
    return {"responses": list(responses)}


@pytest.fixture
def slept():
    return []


@pytest.fixture
def transport(slept):
    with Transport(max_retry_wait=60, sleep=slept.append) as transport:
        yield transport


def identify(transport, check_drive=True):
    return graph.identify(transport, ENDPOINTS, TOKEN, check_drive=check_drive)


def failure(transport, check_drive=True) -> OneDriveError:
    with pytest.raises(OneDriveError) as caught:
        identify(transport, check_drive)
    assert TOKEN not in caught.value.msg
    return caught.value


def test_asks_for_user_and_drive_in_one_batch(fake_http, transport):
    fake_http.answer(200, batch(sub("drive", body=DRIVE), sub("me", body=WORK_USER)))
    identity = identify(transport)
    assert len(fake_http.requests) == 1
    sent = fake_http.requests[0]
    assert (sent["method"], sent["url"]) == ("POST", "https://graph.example/v1.0/$batch")
    assert sent["headers"] == {"Authorization": f"Bearer {TOKEN}"}
    assert sent["json"] == {
        "requests": [{"id": "me", "method": "GET", "url": "/me"}, {"id": "drive", "method": "GET", "url": "/me/drive"}]
    }
    assert identity.user == {
        "id": WORK_USER["id"],
        "display_name": "Adele Vance",
        "user_principal_name": "adele@contoso.onmicrosoft.com",
        "mail": "adele@contoso.com",
        "account_type": "work",
    }
    assert identity.drive == {
        "id": "b!drive-id",
        "drive_type": "business",
        "owner": {"id": WORK_USER["id"], "display_name": "Adele Vance"},
        "quota": {"total": 1000, "used": 10, "remaining": 990, "deleted": 1, "state": "normal"},
    }


def test_personal_account(fake_http, transport):
    drive = dict(DRIVE, driveType="personal", owner={"user": {"id": PERSONAL_USER["id"], "displayName": "Megan"}})
    fake_http.answer(200, batch(sub("me", body=PERSONAL_USER), sub("drive", body=drive)))
    identity = identify(transport)
    assert identity.user["account_type"] == "personal"
    assert identity.user["mail"] is None
    assert identity.drive["drive_type"] == "personal"


def test_without_drive_asks_only_for_the_user(fake_http, transport):
    fake_http.answer(200, batch(sub("me", body=WORK_USER)))
    identity = identify(transport, check_drive=False)
    assert fake_http.requests[0]["json"] == {"requests": [{"id": "me", "method": "GET", "url": "/me"}]}
    assert identity.drive is None


def test_drive_without_owner_or_quota(fake_http, transport):
    fake_http.answer(200, batch(sub("me", body=WORK_USER), sub("drive", body={"id": "d", "driveType": "business"})))
    drive = identify(transport).drive
    assert drive["owner"] is None
    assert drive["quota"] == dict.fromkeys(("total", "used", "remaining", "deleted", "state"))


@pytest.mark.parametrize("where", ["inner", "outer"])
def test_refused_token_is_graph_unauthorized(fake_http, transport, where):
    # Graph's message must never carry the token into ours, even if it echoed it.
    body = graph_error("InvalidAuthenticationToken", f"Token {TOKEN} has expired.")
    headers = {"WWW-Authenticate": 'Bearer realm=""'}
    if where == "inner":
        fake_http.answer(200, batch(sub("me", 401, body, headers), sub("drive", 401, body, headers)))
    else:
        fake_http.answer(401, body, headers=headers)
    error = failure(transport)
    assert error.reason == "graph_unauthorized"
    assert (error.error, error.trace_id, error.correlation_id) == ("InvalidAuthenticationToken", "req-1", "client-1")
    assert "Token ******** has expired." in error.msg


def test_drive_403_names_the_files_scope(fake_http, transport):
    fake_http.answer(200, batch(sub("me", body=WORK_USER), sub("drive", 403, graph_error("accessDenied"))))
    error = failure(transport)
    assert error.reason == "missing_scope"
    assert "Files.Read" in error.msg and error.error == "accessDenied"


def test_user_403_names_user_read(fake_http, transport):
    fake_http.answer(200, batch(sub("me", 403, graph_error("Authorization_RequestDenied")), sub("drive", body=DRIVE)))
    error = failure(transport)
    assert error.reason == "missing_scope" and "User.Read" in error.msg


def test_drive_404_is_no_drive(fake_http, transport):
    fake_http.answer(200, batch(sub("me", body=WORK_USER), sub("drive", 404, graph_error("itemNotFound"))))
    error = failure(transport)
    assert error.reason == "no_drive" and "check_drive=false" in error.msg


def test_user_failure_is_reported_before_drive_failure(fake_http, transport):
    fake_http.answer(200, batch(sub("drive", 404, graph_error("itemNotFound")), sub("me", 401, graph_error("x"))))
    assert failure(transport).reason == "graph_unauthorized"


@pytest.mark.parametrize("status", [429, 503, 504])
@pytest.mark.parametrize("header", ["Retry-After", "retry-after"])
def test_throttled_sub_request_retries_the_batch(fake_http, transport, slept, status, header):
    fake_http.answer(200, batch(sub("me", body=WORK_USER), sub("drive", status, graph_error("x"), {header: "1.5"})))
    fake_http.answer(200, batch(sub("me", body=WORK_USER), sub("drive", body=DRIVE)))
    assert identify(transport).drive["id"] == "b!drive-id"
    assert len(fake_http.requests) == 2 and slept == [1.5]


def test_the_longest_wait_asked_for_is_honoured(fake_http, transport, slept):
    fake_http.answer(
        200,
        batch(
            sub("me", 429, graph_error("x"), {"Retry-After": "3"}),
            sub("drive", 503, graph_error("y"), {"Retry-After": "7"}),
        ),
    )
    fake_http.answer(200, batch(sub("me", body=WORK_USER), sub("drive", body=DRIVE)))
    identify(transport)
    assert slept == [7.0]


def test_throttling_past_the_bound_fails_with_the_wait(fake_http, transport, slept):
    throttled = sub("drive", 429, graph_error("activityLimitReached"), {"Retry-After": "300"})
    fake_http.answer(200, batch(sub("me", body=WORK_USER), throttled))
    error = failure(transport)
    assert (error.reason, error.retry_after, error.error) == ("throttled", 300.0, "activityLimitReached")
    assert "300 s" in error.msg
    assert len(fake_http.requests) == 1 and slept == []


def test_throttling_that_persists_stops_after_the_retries(fake_http, transport, slept):
    for _ in range(4):
        fake_http.answer(200, batch(sub("me", 429, graph_error("x"), {"Retry-After": "1"}), sub("drive", body=DRIVE)))
    assert failure(transport).reason == "throttled"
    assert len(fake_http.requests) == 4 and slept == [1.0, 1.0, 1.0]


def test_unavailable_without_retry_after_backs_off_then_is_a_server_error(fake_http, transport, slept):
    for _ in range(4):
        fake_http.answer(200, batch(sub("me", body=WORK_USER), sub("drive", 503, graph_error("serviceNotAvailable"))))
    assert failure(transport).reason == "server_error"
    assert slept == [0.5, 1.0, 2.0]


def test_throttled_batch_itself_is_retried_by_the_transport(fake_http, transport, slept):
    fake_http.answer(429, body="Too many requests", headers={"Retry-After": "2"})
    fake_http.answer(200, batch(sub("me", body=WORK_USER), sub("drive", body=DRIVE)))
    assert identify(transport).user["id"] == WORK_USER["id"]
    assert slept == [2.0]


@pytest.mark.parametrize(
    "answer",
    [
        dict(status=200, body="<html>proxy</html>"),
        dict(status=200, payload={"responses": "nope"}),
        dict(status=200, payload=batch(sub("me", body=WORK_USER))),
        dict(status=200, payload=batch(sub("me", body={"displayName": "no id"}), sub("drive", body=DRIVE))),
        dict(status=200, payload=batch(sub("me", body=WORK_USER), sub("drive", 400, graph_error("invalidRequest")))),
        dict(status=404, body="Not Found"),
    ],
    ids=["not-json", "bad-shape", "missing-response", "no-id", "inner-400", "outer-404"],
)
def test_unexpected_answers(fake_http, transport, answer):
    status = answer.pop("status")
    fake_http.answer(status, answer.get("payload"), body=answer.get("body"))
    assert failure(transport).reason == "unexpected_response"
