from __future__ import annotations

import datetime

import pytest

from ansible_collections.onedrive.connection.plugins.module_utils.schedule import (
    access_token_usable,
    format_timestamp,
    parse_duration,
    parse_timestamp,
    rotation_due,
)

NOW = datetime.datetime(2026, 3, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize(
    "text, seconds",
    [("0", 0), ("3600", 3600), (90, 90), ("90m", 5400), ("12h", 43200), ("7d", 604800), ("2w", 1209600),
     ("1d12h", 129600), (" 7D ", 604800), ("1d 6h", 108000)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "7 days", "d7", "-1", "1.5h", "7d!", True, None, "²", "٣d"])
def test_what_is_not_a_duration_says_how_to_write_one(text):
    with pytest.raises(ValueError, match="such as 7d or 12h"):
        parse_duration(text)


def test_timestamps_round_trip_in_utc():
    assert format_timestamp(NOW) == "2026-03-01T12:00:00Z"
    assert parse_timestamp("2026-03-01T12:00:00Z") == NOW
    assert parse_timestamp("2026-03-01T13:00:00+01:00") == NOW
    assert parse_timestamp("2026-03-01T12:00:00") == NOW
    assert parse_timestamp("yesterday") is None and parse_timestamp(None) is None


@pytest.mark.parametrize(
    "record, due",
    [
        ({}, True),
        ({"obtained_at": "2026-02-20T12:00:00Z"}, True),
        ({"obtained_at": "2026-02-25T12:00:00Z"}, False),
        ({"obtained_at": "2026-01-01T00:00:00Z", "rotated_at": "2026-02-28T12:00:00Z"}, False),
        ({"rotated_at": "garbage"}, True),
    ],
)
def test_rotation_is_due_a_week_after_the_last_rotation(record, due):
    assert rotation_due(record, NOW, 7 * 86400) is due


@pytest.mark.parametrize(
    "expires, usable",
    [("2026-03-01T13:00:00Z", True), ("2026-03-01T12:04:00Z", False), ("2026-03-01T11:00:00Z", False), (None, False)],
)
def test_an_access_token_serves_while_it_has_five_minutes_left(expires, usable):
    record = {"access_token": "a", "access_token_expires_at": expires}
    assert access_token_usable(record, NOW) is usable
    assert access_token_usable({"access_token_expires_at": expires}, NOW) is False
