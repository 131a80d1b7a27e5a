"""The device authorization grant's polling loop and the devicecode answer, without a server."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.onedrive.connection.plugins.module_utils import device_flow
from ansible_collections.onedrive.connection.plugins.module_utils.errors import (
    DEVICE_CODE_GRANT,
    OneDriveError,
    token_error,
)

TOKENS = object()
SENT = datetime.datetime(2025, 1, 1, 10, 0, tzinfo=datetime.timezone.utc)


class Polled:
    """A Client whose polls answer from a script, on a clock the loop's sleeps move."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.now = 0.0
        self.polls = []

    def redeem_device_code(self, device_code):
        self.polls.append(self.now)
        answer = self.answers.pop(0)
        if answer is not TOKENS:
            raise token_error(400, {"error": answer, "error_codes": [70016]}, grant=DEVICE_CODE_GRANT)
        return answer

    def sleep(self, seconds):
        self.now += seconds

    def clock(self):
        return self.now


def poll(client, **options):
    return device_flow.poll(client, "DAQABIQEAAADx", sleep=client.sleep, clock=client.clock, **options)


def test_pending_waits_the_interval_and_slow_down_adds_five_seconds_for_good():
    client = Polled("authorization_pending", "slow_down", "authorization_pending", TOKENS)
    assert poll(client, interval=2, wait=60) is TOKENS
    assert client.polls == [0, 2, 9, 16]


@pytest.mark.parametrize(("error", "reason"), [
    ("authorization_declined", "access_denied"),
    ("expired_token", "code_expired"),
    ("bad_verification_code", "code_invalid"),
])
def test_final_answers_stop_with_their_reason(error, reason):
    client = Polled("authorization_pending", error)
    with pytest.raises(OneDriveError) as caught:
        poll(client, interval=5, wait=60)
    assert (caught.value.reason, caught.value.error) == (reason, error)
    assert client.polls == [0, 5]


def test_an_already_redeemed_device_code():
    error = token_error(400, {"error": "invalid_grant", "error_codes": [54005]}, grant=DEVICE_CODE_GRANT)
    assert error.reason == "code_redeemed"


@pytest.mark.parametrize(("expires", "reason"), [(True, "code_expired"), (False, "sign_in_timeout")])
def test_the_wait_ends_with_a_last_poll_at_its_end(expires, reason):
    client = Polled(*["authorization_pending"] * 10)
    with pytest.raises(OneDriveError) as caught:
        poll(client, interval=5, wait=12, expires=expires)
    assert caught.value.reason == reason
    assert client.polls == [0, 5, 10, 12]


def test_a_microsoft_answer():
    answer = device_flow._authorization({
        "user_code": "GW7PQ2KHM", "device_code": "DAQABIQEAAADx", "verification_uri": "https://microsoft.com/devicelogin",
        "expires_in": 900, "interval": 5, "message": "To sign in, use a web browser to open the page ...",
    }, SENT)
    result = answer.result()
    assert result["expires_at"] == "2025-01-01T10:15:00Z" and result["interval"] == 5
    assert result["message"].startswith("To sign in, use a web browser") and "verification_uri_complete" not in result
    assert "DAQABIQEAAADx" not in repr(answer)


def test_an_rfc_8628_answer_gets_defaults_and_a_message():
    answer = device_flow._authorization({
        "user_code": "WDJB-MJHT", "device_code": "x" * 40, "verification_uri": "https://example.com/device",
        "verification_uri_complete": "https://example.com/device?user_code=WDJB-MJHT", "expires_in": "1800",
    }, SENT)
    assert answer.interval == 5 and answer.expires_in == 1800
    assert answer.message == (
        "To sign in, open https://example.com/device?user_code=WDJB-MJHT in a web browser, or open"
        " https://example.com/device and enter the code WDJB-MJHT."
    )


def test_azure_ad_v1_spelling_and_an_unprintable_message():
    answer = device_flow._authorization({
        "user_code": "ABC", "device_code": "d" * 20, "verification_url": "https://microsoft.com/devicelogin",
        "expires_in": 900, "interval": 0, "message": "\x1b[2Jgone",
    }, SENT)
    assert answer.verification_uri == "https://microsoft.com/devicelogin" and answer.interval == 5
    assert answer.message == "To sign in, open https://microsoft.com/devicelogin in a web browser and enter the code ABC."


@pytest.mark.parametrize("body", [
    None, [], {"user_code": "A", "verification_uri": "https://x.example", "expires_in": 900},
    {"device_code": "d", "verification_uri": "https://x.example", "expires_in": 900},
    {"device_code": "d", "user_code": "A", "verification_uri": "javascript:alert(1)", "expires_in": 900},
    {"device_code": "d", "user_code": "A", "verification_uri": "https://x.example"},
    {"device_code": "d e", "user_code": "A", "verification_uri": "https://x.example", "expires_in": 900},
])
def test_unusable_answers(body):
    with pytest.raises(OneDriveError) as caught:
        device_flow._authorization(body, SENT)
    assert caught.value.reason == "unexpected_response"
