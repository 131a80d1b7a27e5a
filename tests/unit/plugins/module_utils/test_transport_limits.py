"""Answers are capped in size and in time (issue 20): a huge body or a trickling server fails the request."""

from __future__ import annotations

import gzip
import time

import pytest
from stub_http import serve

from ansible_collections.onedrive.connection.plugins.module_utils.errors import OneDriveError
from ansible_collections.onedrive.connection.plugins.module_utils.transport import (
    DEADLINE_FACTOR,
    MAX_BODY,
    Transport,
    json_body,
)

URL = "https://login.example/common/oauth2/v2.0/token"
SECRET_BODY = "refresh_token=secret-in-the-body"
TIMEOUT = 0.3
DEADLINE = DEADLINE_FACTOR * TIMEOUT


def failure_of(call) -> tuple[OneDriveError, float]:
    started = time.monotonic()
    with pytest.raises(OneDriveError) as raised:
        call()
    return raised.value, time.monotonic() - started


# --- in memory ---


def test_a_body_at_the_cap_is_read(fake_http):
    fake_http.answer(200, body="x" * MAX_BODY)
    assert len(Transport().request("GET", URL).content) == MAX_BODY


def test_a_body_past_the_cap_fails(fake_http):
    fake_http.answer(200, body="y" * (MAX_BODY + 1))
    failure, _ = failure_of(lambda: Transport().request("GET", URL))
    assert failure.reason == "unexpected_response" and "login.example" in failure.msg
    assert "yyyy" not in failure.msg and len(fake_http.requests) == 1


def test_requests_are_streamed(fake_http):
    fake_http.answer(200, {"ok": True})
    assert json_body(Transport().request("POST", URL, data={"a": "b"})) == {"ok": True}
    assert fake_http.requests[0]["stream"] is True


# --- over real sockets ---


def sized(body: bytes, *, chunked=False, headers=()):
    def answer(handler):
        handler.send_response(200)
        for name, value in headers:
            handler.send_header(name, value)
        if chunked:
            handler.send_header("Transfer-Encoding", "chunked")
            handler.end_headers()
            for start in range(0, len(body), 65536):
                piece = body[start : start + 65536]
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            handler.wfile.write(b"0\r\n\r\n")
        else:
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)

    return answer


def trickle(*, in_headers: bool, seconds: float = 4.0, step: float = 0.05):
    """Sends its answer a byte at a time, each well within the read timeout, for ``seconds`` in all."""

    def answer(handler):
        count = int(seconds / step)
        if in_headers:
            handler.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            filler = b"a" * count + b"\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
        else:
            handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % count)
            filler = b" " * count
        for byte in filler:
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            time.sleep(step)

    return answer


def test_a_normal_answer_over_a_socket_is_read_whole():
    with serve(sized(b'{"access_token": "a"}')) as (base, seen):
        with Transport(timeout=5) as transport:
            assert json_body(transport.request("POST", base, data=SECRET_BODY)) == {"access_token": "a"}
            assert json_body(transport.request("GET", base)) == {"access_token": "a"}
    assert len(seen) == 2


@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_huge_body_fails_and_is_not_sent_again(method, chunked):
    with serve(sized(b"z" * (3 * MAX_BODY), chunked=chunked)) as (base, seen):
        with Transport(timeout=5) as transport:
            failure, _ = failure_of(lambda: transport.request(method, base, data=SECRET_BODY))
    assert failure.reason == "unexpected_response" and "127.0.0.1" in failure.msg and "1 MiB" in failure.msg
    assert "zzz" not in failure.msg and "secret" not in failure.msg
    assert len(seen) == 1


def test_the_cap_counts_the_decompressed_body():
    bomb = gzip.compress(b"0" * (8 * MAX_BODY))
    assert len(bomb) < MAX_BODY
    with serve(sized(bomb, headers=[("Content-Encoding", "gzip")])) as (base, seen):
        with Transport(timeout=5) as transport:
            failure, _ = failure_of(lambda: transport.request("GET", base))
    assert failure.reason == "unexpected_response" and len(seen) == 1


@pytest.mark.parametrize("in_headers", [False, True], ids=["body", "headers"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_trickling_answer_fails_at_the_deadline_and_is_not_sent_again(method, in_headers):
    with serve(trickle(in_headers=in_headers)) as (base, seen):
        with Transport(timeout=TIMEOUT, sleep=lambda seconds: None) as transport:
            failure, elapsed = failure_of(lambda: transport.request(method, base, data=SECRET_BODY))
    assert failure.reason == "network", failure.msg
    assert "127.0.0.1" in failure.msg and f"{DEADLINE:g} s" in failure.msg and "secret" not in failure.msg
    assert DEADLINE <= elapsed < DEADLINE + 1.5
    assert len(seen) == 1


def test_the_deadline_is_a_small_multiple_of_the_timeout():
    assert 2 <= DEADLINE_FACTOR <= 5
