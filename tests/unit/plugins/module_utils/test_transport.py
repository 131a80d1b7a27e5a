from __future__ import annotations

import importlib.util
import sys

import pytest
import requests

from ansible_collections.onedrive.connection.plugins.module_utils.errors import OneDriveError
from ansible_collections.onedrive.connection.plugins.module_utils import transport as transport_module
from ansible_collections.onedrive.connection.plugins.module_utils.transport import (
    BACKOFF,
    Transport,
    json_body,
    parse_retry_after,
)

URL = "https://login.example/common/oauth2/v2.0/token"


@pytest.fixture
def slept():
    return []


@pytest.fixture
def transport(slept):
    with Transport(timeout=7, max_retry_wait=60, sleep=slept.append) as transport:
        yield transport


@pytest.mark.parametrize(
    "header, seconds",
    [
        ("0", 0.0),
        ("5", 5.0),
        ("1.5", 1.5),
        (" 2 ", 2.0),
        ("0.25", 0.25),
        (None, None),
        ("", None),
        ("soon", None),
        ("-1", None),
        ("nan", None),
        ("inf", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", None),
    ],
)
def test_parse_retry_after(header, seconds):
    assert parse_retry_after(header) == seconds


def test_passes_timeout_and_verification(fake_http, transport):
    fake_http.answer(200, {"ok": True})
    response = transport.request("POST", URL, data={"a": "b"})
    assert json_body(response) == {"ok": True}
    sent = fake_http.requests[0]
    assert (sent["method"], sent["url"], sent["data"], sent["timeout"], sent["verify"]) == (
        "POST",
        URL,
        {"a": "b"},
        7,
        True,
    )


@pytest.mark.parametrize(
    "options, verify",
    [
        (dict(ca_path="/etc/ca.pem"), "/etc/ca.pem"),
        (dict(validate_certs=False, ca_path="/etc/ca.pem"), False),
        (dict(validate_certs=False), False),
    ],
)
def test_certificate_options(fake_http, options, verify):
    fake_http.answer(200)
    Transport(**options).request("GET", URL)
    assert fake_http.requests[0]["verify"] == verify


@pytest.mark.parametrize("status", [200, 400, 401, 403, 404, 500, 502])
def test_other_statuses_are_never_retried(fake_http, transport, slept, status):
    fake_http.answer(status, headers={"Retry-After": "1"})
    assert transport.request("POST", URL).status_code == status
    assert len(fake_http.requests) == 1 and slept == []


@pytest.mark.parametrize("status", [429, 503, 504])
def test_retry_after_is_honoured(fake_http, transport, slept, status):
    fake_http.answer(status, headers={"Retry-After": "1.5"})
    fake_http.answer(status, headers={"Retry-After": "3"})
    fake_http.answer(200)
    assert transport.request("GET", URL).status_code == 200
    assert slept == [1.5, 3.0]


def test_backoff_without_retry_after_then_the_last_answer_is_returned(fake_http, transport, slept):
    for _ in range(len(BACKOFF) + 1):
        fake_http.answer(503, body="<html>busy</html>")
    response = transport.request("GET", URL)
    assert response.status_code == 503 and json_body(response) is None
    assert slept == list(BACKOFF)
    assert len(fake_http.requests) == len(BACKOFF) + 1


def test_a_wait_beyond_the_bound_is_not_taken(fake_http, slept):
    fake_http.answer(429, headers={"Retry-After": "40"})
    fake_http.answer(429, headers={"Retry-After": "30"})
    response = Transport(max_retry_wait=60, sleep=slept.append).request("GET", URL)
    assert response.status_code == 429 and response.headers["Retry-After"] == "30"
    assert slept == [40.0]


def test_zero_bound_means_no_waiting(fake_http, slept):
    fake_http.answer(429, headers={"Retry-After": "0.1"})
    assert Transport(max_retry_wait=0, sleep=slept.append).request("GET", URL).status_code == 429
    assert slept == []


@pytest.mark.parametrize(
    "exc",
    [
        requests.exceptions.ConnectionError("Connection refused"),
        requests.exceptions.ConnectTimeout("timed out"),
        requests.exceptions.ReadTimeout("read timed out"),
        requests.exceptions.ChunkedEncodingError("cut short"),
    ],
)
def test_transient_failures_are_retried(fake_http, transport, slept, exc):
    fake_http.fail(exc)
    fake_http.answer(200)
    assert transport.request("GET", URL).status_code == 200
    assert slept == [BACKOFF[0]]


def test_spent_retries_fail_with_network(fake_http, transport, slept):
    for _ in range(len(BACKOFF) + 1):
        fake_http.fail(requests.exceptions.ConnectionError("[Errno 111] Connection refused"))
    with pytest.raises(OneDriveError) as raised:
        transport.request("POST", URL, data={"refresh_token": "sekrit"})
    assert raised.value.reason == "network"
    assert "login.example" in raised.value.msg and "Connection refused" in raised.value.msg
    assert "4 attempt(s)" in raised.value.msg and "sekrit" not in raised.value.msg
    assert slept == list(BACKOFF)


def test_tls_failures_are_not_retried(fake_http, transport, slept):
    fake_http.fail(requests.exceptions.SSLError("certificate verify failed: self-signed certificate"))
    with pytest.raises(OneDriveError) as raised:
        transport.request("GET", URL)
    assert raised.value.reason == "tls"
    assert "certificate verify failed" in raised.value.msg and "ca_path" in raised.value.msg
    assert slept == []


def test_other_request_errors_fail_without_retry(fake_http, transport, slept):
    fake_http.fail(requests.exceptions.InvalidURL("bad url"))
    with pytest.raises(OneDriveError, match="bad url") as raised:
        transport.request("GET", URL)
    assert raised.value.reason == "network" and slept == []


def test_real_connection_refused_is_reported_briefly(unused_port):
    transport = Transport(timeout=2, max_retry_wait=0)
    with pytest.raises(OneDriveError) as raised:
        transport.request("GET", f"http://127.0.0.1:{unused_port}/")
    assert raised.value.reason == "network"
    assert "object at 0x" not in raised.value.msg
    assert "refused" in raised.value.msg.lower()


@pytest.fixture
def unused_port():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_importable_without_requests(monkeypatch):
    monkeypatch.setitem(sys.modules, "requests", None)
    spec = importlib.util.find_spec(transport_module.__name__)
    fresh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fresh)
    assert fresh.HAS_REQUESTS is False
    assert "requests" in fresh.REQUESTS_IMPORT_ERROR


def test_callers_may_judge_answers_themselves(fake_http, transport, slept):
    # A Graph $batch answers 200 with throttled responses inside; its caller says what is transient.
    fake_http.answer(200, {"responses": [{"status": 429, "headers": {"Retry-After": "2.5"}}]})
    fake_http.answer(200, {"responses": [{"status": 200}]})

    def inner_status(response):
        inner = json_body(response)["responses"][0]
        return inner["status"], inner.get("headers", {}).get("Retry-After")

    response = transport.request("POST", URL, retry_status=inner_status, json={})
    assert json_body(response) == {"responses": [{"status": 200}]}
    assert slept == [2.5]
