"""Claims as records hold them, and the bookkeeping fields an update writes without reporting."""

from __future__ import annotations

import datetime

from ansible_collections.onedrive.connection.plugins.plugin_utils import claims
from ansible_collections.onedrive.connection.plugins.plugin_utils.connection_changes import REMOVED, masked_diff, merge, reported

NOW = datetime.datetime(2026, 12, 1, 8, 0, tzinfo=datetime.timezone.utc)


def test_a_claim_names_its_run_and_expires_after_the_lease():
    mine = claims.new(900, NOW)
    assert mine["expires_at"] == "2026-12-01T08:15:00Z" and len(mine["run_id"]) == 32
    assert set(mine) == {"run_id", "host", "pid", "expires_at"}
    assert claims.new(900, NOW)["run_id"] != mine["run_id"]


def test_only_a_live_claim_of_another_run_holds_a_connection():
    mine = claims.new(60, NOW)
    other = {**claims.new(60, NOW), "host": "b"}
    assert claims.held_by_another({"claim": other}, mine, NOW) == other
    assert claims.held_by_another({"claim": mine}, mine, NOW) is None
    assert claims.held_by_another({}, mine, NOW) is None
    assert claims.held_by_another({"claim": other}, mine, NOW + datetime.timedelta(seconds=61)) is None
    # Damaged claims hold nothing: a crashed or confused writer never blocks a connection for good.
    for damaged in ("x", {"run_id": "y"}, {"run_id": "y", "expires_at": "soon"}):
        assert claims.held_by_another({"claim": damaged}, mine, NOW) is None


def test_a_claim_write_expects_the_claim_and_the_token_it_read():
    assert claims.expectation({"refresh_token": "r"}) == {"claim": None, "refresh_token": "r"}
    assert claims.shown({"run_id": "a", "host": "h", "pid": 1, "expires_at": "t", "extra": 1}) == {
        "run_id": "a", "host": "h", "pid": 1, "expires_at": "t",
    }


def test_removed_takes_a_field_away_and_is_no_change_when_it_is_absent():
    stored = {"robot": {"refresh_token": "r", "claim": {"run_id": "a"}}}
    merged, changes = merge(stored, {"robot": {"claim": REMOVED}})
    assert merged == {"robot": {"refresh_token": "r"}} and changes == {"robot": ["claim"]}
    merged, changes = merge(merged, {"robot": {"claim": REMOVED}})
    assert merged == {"robot": {"refresh_token": "r"}} and changes == {}


def test_hidden_fields_are_written_but_neither_reported_nor_shown():
    changes = {"a": ["claim"], "b": ["claim", "refresh_token"], "new": []}
    assert reported(changes, claims.HIDDEN) == {"b": ["refresh_token"], "new": []}
    before = {"b": {"refresh_token": "old", "claim": {"run_id": "x"}}}
    after = {"b": {"refresh_token": "new"}, "new": {}}
    diff = masked_diff("p", "k", before, after, reported(changes, claims.HIDDEN), {"refresh_token"}, claims.HIDDEN)
    assert "run_id" not in diff["before"] + diff["after"]
    assert "refresh_token: '********'" in diff["before"] and "refresh_token: '******** (changed)'" in diff["after"]
