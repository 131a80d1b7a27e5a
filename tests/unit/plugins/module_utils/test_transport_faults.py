"""Network faults as requests and urllib3 really report them: what is sent again, and what a failure says."""

from __future__ import annotations

from http.client import RemoteDisconnected

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError, ReadTimeoutError

from ansible_collections.onedrive.connection.plugins.module_utils import graph
from ansible_collections.onedrive.connection.plugins.module_utils.endpoints import endpoints
from ansible_collections.onedrive.connection.plugins.module_utils.errors import OneDriveError, status_error
from ansible_collections.onedrive.connection.plugins.module_utils.tokens import Client
from ansible_collections.onedrive.connection.plugins.module_utils.transport import BACKOFF, Transport

URL = "https://login.example/common/oauth2/v2.0/token"
ENDPOINTS = endpoints(login_url="https://login.example", graph_url="https://graph.example")
REFRESH_TOKEN = "refresh-token-value"


def refused():
    cause = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")
    return requests.exceptions.ConnectionError(MaxRetryError(None, URL, cause))


def connect_timeout():
    return requests.exceptions.ConnectTimeout(MaxRetryError(None, URL, "connect timed out"))


def read_timeout():
    return requests.exceptions.ReadTimeout(ReadTimeoutError(None, URL, "Read timed out. (read timeout=1)"))


def dropped():
    cause = ProtocolError("Connection aborted.", RemoteDisconnected("Remote end closed connection without response"))
    return requests.exceptions.ConnectionError(cause)


def cut_short():
    return requests.exceptions.ChunkedEncodingError(ProtocolError("Response ended prematurely"))


def timed_out_in_body():
    # requests reports a read timeout while streaming the body as a ConnectionError.
    return requests.exceptions.ConnectionError(ReadTimeoutError(None, URL, "Read timed out."))


BEFORE_SENDING = [refused, connect_timeout]
AFTER_SENDING = [read_timeout, dropped, cut_short, timed_out_in_body]


@pytest.fixture
def slept():
    return []


@pytest.fixture
def transport(slept):
    with Transport(timeout=1, max_retry_wait=60, sleep=slept.append) as transport:
        yield transport


@pytest.mark.parametrize("failure", BEFORE_SENDING)
def test_a_post_that_never_left_is_sent_again(fake_http, transport, slept, failure):
    fake_http.fail(failure())
    fake_http.answer(200)
    assert transport.request("POST", URL).status_code == 200
    assert slept == [BACKOFF[0]]


@pytest.mark.parametrize("failure", AFTER_SENDING)
def test_a_post_the_service_may_have_acted_on_is_not_sent_again(fake_http, transport, slept, failure):
    fake_http.fail(failure())
    with pytest.raises(OneDriveError) as raised:
        transport.request("POST", URL)
    assert raised.value.reason == "network" and "(1 attempt(s))" in raised.value.msg
    assert "not sent again" in raised.value.msg
    assert len(fake_http.requests) == 1 and slept == []


@pytest.mark.parametrize("method, idempotent", [("GET", None), ("POST", True)])
@pytest.mark.parametrize("failure", AFTER_SENDING)
def test_an_idempotent_request_is_sent_again_after_any_transient_failure(
    fake_http, transport, slept, failure, method, idempotent
):
    for _ in range(len(BACKOFF) + 1):
        fake_http.fail(failure())
    with pytest.raises(OneDriveError) as raised:
        transport.request(method, URL, idempotent=idempotent)
    assert raised.value.reason == "network" and "(4 attempt(s))" in raised.value.msg
    assert "not sent again" not in raised.value.msg
    assert slept == list(BACKOFF)


def test_a_refresh_whose_answer_was_lost_is_not_repeated(fake_http, transport):
    # Sent again, a refresh token the service already rotated out would be reused.
    fake_http.fail(read_timeout())
    with pytest.raises(OneDriveError) as raised:
        Client(transport, ENDPOINTS, "client-id").refresh(REFRESH_TOKEN)
    assert raised.value.reason == "network" and len(fake_http.requests) == 1
    assert REFRESH_TOKEN not in raised.value.msg


def test_a_graph_batch_whose_answer_was_lost_is_sent_again(fake_http, transport, slept):
    fake_http.fail(dropped())
    user = {"id": "2f1e0d9c-8b7a-4f6e-9d5c-4b3a2f1e0d9c", "userPrincipalName": "adele@contoso.onmicrosoft.com"}
    fake_http.answer(200, {"responses": [{"id": "me", "status": 200, "body": user}]})
    assert graph.identify(transport, ENDPOINTS, "access-token", check_drive=False).user["id"] == user["id"]
    assert slept == [BACKOFF[0]]


@pytest.mark.parametrize("body", ["Service Unavailable", "<html><body>Sign in to the proxy</body></html>", "[]"])
def test_a_graph_batch_answer_that_is_not_a_batch(fake_http, transport, body):
    fake_http.answer(200, body=body)
    with pytest.raises(OneDriveError) as raised:
        graph.identify(transport, ENDPOINTS, "access-token")
    assert raised.value.reason == "unexpected_response" and "JSON list of responses" in raised.value.msg


def test_a_lost_connection_is_described_plainly(fake_http, transport):
    fake_http.fail(dropped())
    with pytest.raises(OneDriveError) as raised:
        transport.request("POST", URL)
    assert "login.example (1 attempt(s)): Connection aborted: Remote end closed connection without response." in (
        raised.value.msg
    )


def test_a_missing_ca_bundle_fails_as_tls_without_a_traceback(fake_http, transport):
    # requests checks the bundle only when sending, and raises a bare OSError.
    fake_http.fail(OSError("Could not find a suitable TLS CA certificate bundle, invalid path: /gone/ca.pem"))
    with pytest.raises(OneDriveError) as raised:
        transport.request("POST", URL)
    assert raised.value.reason == "tls"
    assert "/gone/ca.pem" in raised.value.msg and "Set ca_path" in raised.value.msg


@pytest.mark.parametrize(
    "options, advice",
    [(dict(), "Set ca_path to the CA bundle"), (dict(ca_path="/etc/corp-ca.pem"), "Check that ca_path (/etc/corp-ca.pem)")],
)
def test_an_untrusted_certificate_says_what_to_do_about_ca_path(fake_http, options, advice):
    fake_http.fail(requests.exceptions.SSLError("certificate verify failed: self-signed certificate in chain"))
    with pytest.raises(OneDriveError) as raised:
        Transport(**options).request("POST", URL)
    assert raised.value.reason == "tls" and advice in raised.value.msg


@pytest.mark.parametrize(
    "error, said",
    [(None, "without Microsoft's error details"), ("temporarily_unavailable", "Microsoft answered HTTP 502")],
)
def test_a_server_error_says_whether_microsoft_sent_it(error, said):
    failure = status_error(502, error=error)
    assert failure.reason == "server_error" and said in failure.msg


def test_a_header_requests_refuses_is_reported_without_its_value():
    with Transport(sleep=lambda seconds: None) as transport:
        with pytest.raises(OneDriveError) as caught:
            transport.request("GET", "https://graph.example/v1.0/me", headers={"Authorization": "Bearer SECRET\n"})
    assert caught.value.reason == "invalid_option" and "SECRET" not in caught.value.msg
