"""The loopback listener in-process: what it accepts, answers and hands over."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import requests

from ansible_collections.onedrive.connection.plugins.module_utils.errors import OneDriveError
from ansible_collections.onedrive.connection.plugins.module_utils.loopback import receive, validate_loopback_uri


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def listening(redirect_uri, state="s1", timeout=20):
    outcome = {}

    def run():
        try:
            outcome["result"] = receive(redirect_uri, state, timeout)
        except OneDriveError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def send(method, url, **options):
    for _ in range(100):
        try:
            return requests.request(method, url, timeout=10, **options)
        except requests.ConnectionError:
            time.sleep(0.05)
    raise AssertionError("nothing listened")


@pytest.mark.parametrize(("uri", "shape"), [
    ("http://localhost:8400", ("http://localhost:8400", 8400, "/")),
    ("http://127.0.0.1:9000/cb", ("http://127.0.0.1:9000", 9000, "/cb")),
    ("http://LOCALHOST:8400/x", ("http://LOCALHOST:8400", 8400, "/x")),
])
def test_loopback_uris(uri, shape):
    assert tuple(validate_loopback_uri(uri)) == shape


@pytest.mark.parametrize("uri", [
    "https://localhost:8400/", "http://localhost/", "http://localhost:0/", "http://10.0.0.1:8400/",
    "http://[::1]:8400/", "http://user@localhost:8400/", "http://localhost:8400/#x", "http://localhost:8400/?a=1",
    "http://localhost:port/", "http://localhost:8400/a b",
])
def test_other_uris_are_refused(uri):
    with pytest.raises(OneDriveError) as caught:
        validate_loopback_uri(uri)
    assert caught.value.reason == "invalid_option"


def test_form_post_and_what_is_ignored_on_the_way():
    port = free_port()
    thread, outcome = listening(f"http://localhost:{port}/cb")
    base = f"http://127.0.0.1:{port}"
    assert send("GET", f"{base}/cb").status_code == 400  # neither code nor error
    assert send("POST", f"{base}/cb", data="code=c&state=other",
                headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 400
    assert send("PUT", f"{base}/cb").status_code == 501
    page = send("POST", f"{base}/cb", data={"code": "c0de", "state": "s1", "session_state": "x"})
    assert page.status_code == 200 and "c0de" not in page.text
    thread.join(10)
    result = outcome["result"]
    assert result.response_url == f"http://localhost:{port}/cb?code=c0de&state=s1&session_state=x"
    assert (result.state_mismatches, result.ignored_requests) == (1, 1)


def test_a_silent_connection_holds_nothing_up():
    port = free_port()
    thread, outcome = listening(f"http://localhost:{port}/")
    time.sleep(0.3)
    with socket.create_connection(("127.0.0.1", port)):
        page = send("GET", f"http://127.0.0.1:{port}/?code=c&state=s1")
        assert page.status_code == 200
    thread.join(10)
    assert outcome["result"].response_url.endswith("/?code=c&state=s1")


def test_the_wait_ends():
    with pytest.raises(OneDriveError) as caught:
        receive(f"http://localhost:{free_port()}/", "s1", 0.3)
    assert caught.value.reason == "sign_in_timeout"
