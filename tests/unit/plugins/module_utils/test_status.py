from __future__ import annotations

import datetime
import json

from ansible_collections.onedrive.connection.plugins.module_utils import status

NOW = datetime.datetime(2026, 3, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
WEEK = 7 * 86400


def record(**fields):
    return {"client_id": "app", "refresh_token": "secret-refresh", "access_token": "secret-access", **fields}


def test_ages_expiry_and_next_rotation_come_from_the_last_rotation_else_the_sign_in():
    rotated = status.connection_status(
        record(obtained_at="2026-01-01T00:00:00Z", rotated_at="2026-02-27T12:00:00Z", last_status="rotated"), NOW, WEEK
    )
    assert rotated["refresh_token_issued_at"] == "2026-02-27T12:00:00Z"
    assert rotated["refresh_token_expires_at"] == "2026-05-28T12:00:00Z"
    assert rotated["next_rotation_due_at"] == "2026-03-06T12:00:00Z" and rotated["rotation_due"] is False
    assert (rotated["refresh_token_age_seconds"], rotated["refresh_token_age_days"]) == (2 * 86400, 2.0)
    assert (rotated["up"], rotated["reason"], rotated["advice"]) == (True, None, "ok")

    signed_in = status.connection_status(record(obtained_at="2026-02-20T12:00:00Z"), NOW, WEEK)
    assert signed_in["refresh_token_expires_at"] == "2026-05-21T12:00:00Z" and signed_in["rotation_due"] is True
    assert (signed_in["up"], signed_in["last_status"]) == (None, None)

    unknown = status.connection_status(record(), NOW, WEEK)
    assert unknown["refresh_token_expires_at"] is None and unknown["next_rotation_due_at"] == "2026-03-01T12:00:00Z"


def test_the_verdict_and_what_the_store_says_now():
    revoked = status.connection_status(
        record(obtained_at="2026-02-27T12:00:00Z", last_status="failed", last_reason="token_revoked"), NOW, WEEK
    )
    assert (revoked["up"], revoked["reason"], revoked["needs_authorization"]) == (False, "token_revoked", True)
    throttled = status.connection_status(
        record(obtained_at="2026-02-27T12:00:00Z", last_status="failed", last_reason="throttled"), NOW, WEEK
    )
    assert (throttled["up"], throttled["needs_authorization"]) == (False, False)
    assert throttled["advice"].startswith("transient")
    # A check made before verdicts were recorded left its success behind.
    legacy = status.connection_status(record(obtained_at="2026-02-27T12:00:00Z", verified_at="2026-02-27T12:00:00Z"), NOW, WEEK)
    assert (legacy["up"], legacy["last_status"]) == (True, "verified")
    expired = status.connection_status(record(rotated_at="2025-11-01T00:00:00Z", last_status="rotated"), NOW, WEEK)
    assert (expired["up"], expired["reason"]) == (False, "token_expired")
    empty = status.connection_status(record(refresh_token="", last_status="rotated", rotated_at="2026-02-28T00:00:00Z"), NOW, WEEK)
    assert (empty["up"], empty["reason"], empty["refresh_token_stored"]) == (False, "token_invalid", False)
    soon = status.connection_status(record(rotated_at="2025-12-10T00:00:00Z", last_status="rotated"), NOW, WEEK)
    assert soon["up"] is True and soon["advice"].startswith("expires soon")


def test_no_secret_in_any_rendering():
    report = status.statuses({"a": record(obtained_at="2026-02-27T12:00:00Z", client_secret="secret-client")}, NOW, WEEK)
    shown = json.dumps(report) + status.document(report, WEEK) + status.metrics(report) + "\n".join(status.table(report))
    assert "secret-" not in shown


def test_the_table_puts_the_unhealthy_first_and_aligns_its_columns():
    report = status.statuses({
        "fine": record(rotated_at="2026-02-28T00:00:00Z", last_status="rotated", user_principal_name="u@example.com"),
        "new": record(obtained_at="2026-02-28T00:00:00Z"),
        "gone": record(rotated_at="2026-02-28T00:00:00Z", last_status="failed", last_reason="token_revoked"),
        "odd\nname": record(rotated_at="2026-02-28T00:00:00Z", last_status="failed", last_reason="network"),
    }, NOW, WEEK)
    lines = status.table(report)
    assert [line.split()[0] for line in lines] == ["CONNECTION", "gone", "odd\\nname", "new", "fine"]
    column = lines[0].index("STATE")
    assert [line[column:].split()[0] for line in lines[1:]] == ["DOWN", "DOWN", "unknown", "up"]
    assert all("\n" not in line for line in lines)


def test_metrics_escape_labels_and_leave_unknown_times_out():
    report = status.statuses({'a"b\\': record(last_status="failed", last_reason="network")}, NOW, WEEK)
    text = status.metrics(report)
    assert 'onedrive_connection_up{connection="a\\"b\\\\"} 0' in text
    assert "onedrive_connection_last_rotation_timestamp_seconds{" not in text
    assert 'onedrive_connection_info{connection="a\\"b\\\\",user_principal_name="",account_type="",drive_type=""} 1' in text


def test_a_verdict_is_recorded_only_for_checks_and_rewritten_only_when_it_changes():
    assert status.recorded({"status": "not_due"}, "t") is None and status.recorded({"status": "claimed"}, "t") is None
    failed = status.recorded({"status": "failed", "reason": "throttled", "verified_at": None}, "2026-03-01T12:00:00Z")
    assert failed == {"last_status": "failed", "last_reason": "throttled", "last_checked_at": "2026-03-01T12:00:00Z"}
    verified = status.recorded({"status": "verified", "verified_at": "2026-03-01T11:00:00Z"}, "later")
    assert verified == {"last_status": "verified", "last_reason": None, "last_checked_at": "2026-03-01T11:00:00Z"}
    assert not status.verdict_changed({"last_status": "rotated"}, verified)
    assert status.verdict_changed({}, verified)
    assert status.verdict_changed({"last_status": "failed", "last_reason": "network"}, verified)
    assert status.verdict_changed({"last_status": "failed", "last_reason": "network"}, failed)
    # The bootstrap role stores a connection once Graph accepted it: its verified_at is a passing verdict.
    assert not status.verdict_changed({"verified_at": "2026-03-01T10:00:00Z"}, verified)
