from __future__ import annotations

import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.onedrive.connection.plugins.plugin_utils.connection_changes import (
    CHANGED_MASK,
    MASK,
    masked,
    merge,
    plain_secrets,
    same,
)
from ansible_collections.onedrive.connection.plugins.plugin_utils.vault_yaml import UndecryptableValue, VaultValue

SECRETS = frozenset({"refresh_token", "client_secret"})


@pytest.mark.parametrize(
    "stored, wanted",
    [(1, True), (True, 1), ("1", 1), (1, 1.0), ([1], (1,)), ({"a": 1}, {"a": "1"}), ([1, 2], [1]),
     (datetime.date(2026, 1, 2), "2026-01-02"), (None, "")],
)
def test_same_is_strict_about_types(stored, wanted):
    assert not same(stored, wanted)


def test_same_compares_nested_data_and_vault_plaintext(vault):
    token = VaultValue.encrypt("t1", vault, vault.secrets[0][1], "default")
    assert same({"a": [1, {"b": None}], "t": token}, {"a": [1, {"b": None}], "t": "t1"})
    assert not same(token, "t2")
    assert not same(token, 1)


def test_merge_sets_only_changed_fields_and_keeps_the_rest_as_stored():
    token = object()
    stored = {"one": {"client_id": "a", "tenant": "common", "extra": token}, "two": {"client_id": "b"}}
    merged, changes = merge(stored, {"one": {"client_id": "a", "tenant": "consumers", "drive_id": "d"}})
    assert changes == {"one": ["drive_id", "tenant"]}
    assert merged["one"] == {"client_id": "a", "tenant": "consumers", "extra": token, "drive_id": "d"}
    assert merged["one"]["extra"] is token
    assert merged["two"] is stored["two"]
    assert stored["one"]["tenant"] == "common", "the stored mapping itself is not modified"


def test_merge_reports_new_empty_connections_and_removals():
    stored = {"old": {"client_id": "a", "refresh_token": "x"}}
    merged, changes = merge(stored, {"new": {}}, ["old", "never-there"])
    assert merged == {"new": {}}
    assert changes == {"new": [], "old": ["client_id", "refresh_token"]}


def test_merge_of_equal_data_changes_nothing():
    stored = {"one": {"scopes": ["Files.Read"], "n": 1}}
    assert merge(stored, {"one": {"scopes": ["Files.Read"], "n": 1}}) == (stored, {})


def test_merge_names_the_field_it_cannot_decrypt(vault, make_vault):
    token = VaultValue.encrypt("t1", vault, vault.secrets[0][1], "default")
    unreadable = VaultValue(token.ciphertext, make_vault(("default", "wrong")))
    with pytest.raises(UndecryptableValue, match="field 'refresh_token' of connection 'one' cannot be decrypted"):
        merge({"one": {"refresh_token": unreadable}}, {"one": {"refresh_token": "t2"}})


_fields = st.dictionaries(st.sampled_from(["client_id", "refresh_token", "n", "scopes"]),
                          st.none() | st.integers() | st.text(max_size=5) | st.lists(st.text(max_size=5), max_size=3))
_connections = st.dictionaries(st.sampled_from(["a", "b", "c"]), _fields)


@settings(max_examples=200, deadline=None)
@given(_connections, _connections, st.sets(st.sampled_from(["a", "b", "c", "d"])))
def test_merge_applies_everything_and_a_second_merge_changes_nothing(stored, updates, removals):
    removals -= set(updates)
    merged, dummy = merge(stored, updates, removals)
    for name, values in updates.items():
        assert all(same(merged[name][field], value) for field, value in values.items())
    assert not removals & set(merged)
    assert merge(merged, updates, removals)[1] == {}


def test_plain_secrets_finds_plain_secret_values_and_formerly_vaulted_fields(vault):
    token = VaultValue.encrypt("t1", vault, vault.secrets[0][1], "default")
    before = {"one": {"password": token}, "two": {"refresh_token": token}}
    after = {
        "one": {"password": "new", "refresh_token": "plain", "client_secret": None, "client_id": "x"},
        "two": {"refresh_token": token},
    }
    assert plain_secrets(after, before, SECRETS) == {"one": ["password", "refresh_token"]}


def test_masked_hides_secret_and_vaulted_values_and_marks_changed_secrets(vault):
    token = VaultValue.encrypt("t1", vault, vault.secrets[0][1], "default")
    connection = {"client_id": "a", "refresh_token": "r", "client_secret": None, "password": "p", "nested": {"k": token}}
    assert masked(connection, SECRETS, ["refresh_token", "password"], before={"password": token}) == {
        "client_id": "a",
        "refresh_token": CHANGED_MASK,
        "client_secret": None,
        "password": CHANGED_MASK,
        "nested": {"k": MASK},
    }
    assert masked({"refresh_token": "r"}, SECRETS) == {"refresh_token": MASK}
