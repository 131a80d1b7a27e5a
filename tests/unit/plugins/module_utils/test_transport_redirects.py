"""Redirects (issue 20): token requests are never redirected, Graph ones only within their origin."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import pytest
from stub_http import serve

from ansible_collections.onedrive.connection.plugins.module_utils import graph
from ansible_collections.onedrive.connection.plugins.module_utils.endpoints import endpoints
from ansible_collections.onedrive.connection.plugins.module_utils.errors import OneDriveError
from ansible_collections.onedrive.connection.plugins.module_utils.tokens import Client
from ansible_collections.onedrive.connection.plugins.module_utils.transport import MAX_REDIRECTS, Transport

ENDPOINTS = endpoints(login_url="https://login.example", graph_url="https://graph.example")
TOKEN_URL = ENDPOINTS.token
BATCH_URL = ENDPOINTS.graph("/$batch")
CLIENT_ID = "3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11"
REFRESH_TOKEN = "refresh-token-value"
CLIENT_SECRET = "client-secret-value"
ACCESS_TOKEN = "access-token-value"
USER = {"id": "2f1e0d9c-8b7a-4f6e-9d5c-4b3a2f1e0d9c", "userPrincipalName": "adele@contoso.onmicrosoft.com"}


@pytest.fixture
def transport():
    with Transport(timeout=5, max_retry_wait=60, sleep=lambda seconds: None) as transport:
        yield transport


def refused(call) -> OneDriveError:
    with pytest.raises(OneDriveError) as raised:
        call()
    assert raised.value.reason == "unexpected_response"
    return raised.value


def origin(url: str, location: str) -> str:
    parts = urlsplit(urljoin(url, location))
    return f"{parts.scheme}://{parts.netloc}"


# --- token requests: no redirect at all ---

TOKEN_LOCATIONS = [
    "https://login.example/common/oauth2/v2.0/token2?leak=query-text",
    "http://127.0.0.1:8999/capture?leak=query-text",
    "https://evil.example/token?leak=query-text",
    "/elsewhere?leak=query-text",
]


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("location", TOKEN_LOCATIONS)
def test_a_token_request_is_never_redirected(fake_http, transport, status, location):
    fake_http.answer(status, headers={"Location": location})
    client = Client(transport, ENDPOINTS, CLIENT_ID, CLIENT_SECRET)
    failure = refused(lambda: client.refresh(REFRESH_TOKEN))
    assert len(fake_http.requests) == 1 and fake_http.requests[0]["allow_redirects"] is False
    assert origin(TOKEN_URL, location) in failure.msg and f"HTTP {status}" in failure.msg
    for secret in ("query-text", REFRESH_TOKEN, CLIENT_SECRET, "/capture", "/elsewhere"):
        assert secret not in failure.msg


def test_a_code_redemption_is_never_redirected(fake_http, transport):
    fake_http.answer(307, headers={"Location": "https://login.example/other?x=1"})
    client = Client(transport, ENDPOINTS, CLIENT_ID)
    failure = refused(lambda: client.redeem_code("the-code", "http://localhost", code_verifier="v" * 43))
    assert len(fake_http.requests) == 1 and "the-code" not in failure.msg


@pytest.mark.parametrize("status", [300, 304, 307])
def test_a_redirect_without_location_is_refused(fake_http, transport, status):
    fake_http.answer(status)
    failure = refused(lambda: transport.request("POST", TOKEN_URL, data={"refresh_token": REFRESH_TOKEN}))
    assert "login.example" in failure.msg and "Location" in failure.msg and len(fake_http.requests) == 1


def test_a_device_code_request_is_never_redirected(fake_http, transport):
    fake_http.answer(308, headers={"Location": "https://login.example/common/oauth2/v2.0/devicecode2"})
    refused(lambda: transport.request("POST", "https://login.example/common/oauth2/v2.0/devicecode", data={}))
    assert len(fake_http.requests) == 1


# --- Graph: same origin followed a few times, another origin refused ---


def test_a_same_origin_redirect_is_followed_with_method_body_and_headers(fake_http, transport):
    fake_http.answer(307, headers={"Location": "/v1.0/$batch?hop=1"})
    fake_http.answer(308, headers={"Location": "https://GRAPH.example:443/v1.0/$batch"})
    fake_http.answer(200, {"ok": True})
    headers = {"Authorization": f"Bearer {ACCESS_TOKEN}"}
    response = transport.request("POST", BATCH_URL, json={"requests": []}, headers=headers, idempotent=True)
    assert response.status_code == 200 and response.json() == {"ok": True}
    sent = fake_http.requests
    assert [request["url"] for request in sent] == [
        BATCH_URL,
        "https://graph.example/v1.0/$batch?hop=1",
        "https://GRAPH.example:443/v1.0/$batch",
    ]
    assert all(request["method"] == "POST" and request["json"] == {"requests": []} for request in sent)
    assert all(request["headers"] == headers and request["allow_redirects"] is False for request in sent)


def test_graph_identify_follows_a_same_origin_redirect(fake_http, transport):
    fake_http.answer(307, headers={"Location": "https://graph.example/v1.0/$batch"})
    fake_http.answer(200, {"responses": [{"id": "me", "status": 200, "body": USER}]})
    identity = graph.identify(transport, ENDPOINTS, ACCESS_TOKEN, check_drive=False)
    assert identity.user["id"] == USER["id"] and len(fake_http.requests) == 2


@pytest.mark.parametrize(
    "location",
    [
        "https://evil.example/v1.0/$batch?token=query-text",
        "http://graph.example/v1.0/$batch?token=query-text",
        "https://graph.example:8443/v1.0/$batch?token=query-text",
        "https://graph.example.evil.example/v1.0/$batch",
        "//evil.example/v1.0/$batch",
        "http://127.0.0.1:8999/capture?token=query-text",
    ],
)
def test_graph_refuses_a_redirect_to_another_origin(fake_http, transport, location):
    fake_http.answer(307, headers={"Location": location})
    failure = refused(lambda: graph.identify(transport, ENDPOINTS, ACCESS_TOKEN))
    assert len(fake_http.requests) == 1
    assert origin(BATCH_URL, location) in failure.msg and "graph.example" in failure.msg
    assert "query-text" not in failure.msg and ACCESS_TOKEN not in failure.msg and "/capture" not in failure.msg


def test_another_origin_is_refused_after_a_same_origin_hop(fake_http, transport):
    fake_http.answer(302, headers={"Location": "/v1.0/me"})
    fake_http.answer(302, headers={"Location": "https://evil.example/"})
    failure = refused(lambda: transport.request("GET", "https://graph.example/v1.0/me"))
    assert len(fake_http.requests) == 2 and "https://evil.example" in failure.msg


def test_only_a_few_redirects_are_followed(fake_http, transport):
    for hop in range(MAX_REDIRECTS + 1):
        fake_http.answer(307, headers={"Location": f"/v1.0/me?hop={hop}"})
    failure = refused(lambda: transport.request("GET", "https://graph.example/v1.0/me"))
    assert len(fake_http.requests) == MAX_REDIRECTS + 1
    assert f"more than {MAX_REDIRECTS}" in failure.msg and "hop=" not in failure.msg


@pytest.mark.parametrize("status", [303, 302, 301])
def test_a_redirect_that_asks_for_a_get_drops_the_body(fake_http, transport, status):
    fake_http.answer(status, headers={"Location": "/v1.0/result"})
    fake_http.answer(200)
    transport.request("POST", BATCH_URL, json={"requests": []}, idempotent=True)
    follow = fake_http.requests[1]
    assert follow["method"] == "GET" and "json" not in follow and "data" not in follow


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_get_stays_a_get(fake_http, transport, status):
    fake_http.answer(status, headers={"Location": "/v1.0/me/drive"})
    fake_http.answer(200)
    transport.request("GET", "https://graph.example/v1.0/me")
    assert fake_http.requests[1]["method"] == "GET"


def test_a_caller_may_refuse_every_redirect(fake_http, transport):
    fake_http.answer(307, headers={"Location": "/v1.0/me"})
    refused(lambda: transport.request("GET", "https://graph.example/v1.0/me", redirects=0))
    assert len(fake_http.requests) == 1


def test_a_retried_answer_after_a_redirect_still_counts_its_retries(fake_http):
    slept = []
    fake_http.answer(307, headers={"Location": "/v1.0/me"})
    fake_http.answer(503, headers={"Retry-After": "1"})
    fake_http.answer(200)
    assert Transport(sleep=slept.append).request("GET", "https://graph.example/v1.0/x").status_code == 200
    assert slept == [1.0] and len(fake_http.requests) == 3


# --- over real sockets: nothing reaches the Location ---


def redirect_to(location, status):
    def answer(handler):
        handler.send_response(status)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return answer


def ok(handler):
    handler.send_response(200)
    handler.send_header("Content-Length", "2")
    handler.end_headers()
    handler.wfile.write(b"{}")


@pytest.mark.parametrize("status", [307, 308])
def test_a_real_token_endpoint_redirect_sends_nothing_to_its_location(status):
    with serve(ok) as (capture, captured):
        with serve(redirect_to(f"{capture}/steal?x=1", status)) as (login, seen):
            where = endpoints(login_url=login, graph_url=login)
            with Transport(timeout=5) as transport:
                failure = refused(
                    lambda: Client(transport, where, CLIENT_ID, CLIENT_SECRET).refresh(REFRESH_TOKEN)
                )
    assert len(seen) == 1 and captured == []
    assert capture.split("//")[1] in failure.msg and "steal" not in failure.msg


def test_a_real_graph_redirect_within_the_origin_is_followed():
    def answer(handler):
        (redirect_to("/v1.0/moved", 307) if handler.path.endswith("$batch") else ok)(handler)

    with serve(answer) as (base, seen):
        with Transport(timeout=5) as transport:
            response = transport.request("POST", f"{base}/v1.0/$batch", json={"a": 1}, idempotent=True)
    assert response.json() == {} and [(method, path) for method, path, _ in seen] == [
        ("POST", "/v1.0/$batch"),
        ("POST", "/v1.0/moved"),
    ]
    assert seen[1][2] == b'{"a": 1}'
