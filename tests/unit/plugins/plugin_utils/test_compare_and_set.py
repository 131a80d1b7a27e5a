"""The expect option of vault_config: an update lands only while the stored fields are the expected ones."""

from __future__ import annotations

import multiprocessing
import random
import stat
import time

import pytest
import yaml

from ansible_collections.onedrive.connection.plugins.plugin_utils.connection_changes import unmet
from ansible_collections.onedrive.connection.plugins.plugin_utils.vault_file import VaultConfigError, VaultConfigFile
from ansible_collections.onedrive.connection.plugins.plugin_utils.vault_yaml import UndecryptableValue, VaultValue


def stored_connections(path, vault):
    return yaml.safe_load(vault.decrypt(path.read_bytes()))["onedrive_connections"]


def snapshot(path):
    info = path.stat()
    return path.read_bytes(), info.st_mtime_ns, stat.S_IMODE(info.st_mode)


def test_unmet_names_the_connections_whose_fields_differ(vault):
    token = VaultValue.encrypt("t1", vault, vault.secrets[0][1], "default")
    connections = {"vaulted": {"refresh_token": token}, "plain": {"refresh_token": "t1", "serial": 1}}
    assert unmet(connections, {"vaulted": {"refresh_token": "t1"}, "plain": {"refresh_token": "t1", "serial": 1}}) == []
    assert unmet(connections, {"vaulted": {"refresh_token": "t0"}, "plain": {"serial": "1"}}) == ["plain", "vaulted"]


def test_unmet_treats_what_is_not_stored_as_null():
    connections = {"robot": {"refresh_token": "t1"}}
    assert unmet(connections, {"robot": {"drive_id": None}, "new": {"refresh_token": None}}) == []
    assert unmet(connections, {"robot": {"drive_id": "d"}, "new": {"refresh_token": "t1"}}) == ["new", "robot"]


def test_unmet_names_the_field_it_cannot_decrypt(vault, make_vault):
    other = make_vault(("default", "another password"))
    token = VaultValue.encrypt("t1", other, other.secrets[0][1], "default")
    with pytest.raises(UndecryptableValue, match="field 'refresh_token' of connection 'robot'") as caught:
        unmet({"robot": {"refresh_token": VaultValue(token.ciphertext, vault)}}, {"robot": {"refresh_token": "t1"}})
    assert "t1" not in str(caught.value)


def test_only_connections_that_hold_the_expected_fields_change_in_one_write(tmp_path, vault):
    path = tmp_path / "vault.yml"
    VaultConfigFile(str(path), vault).update({"one": {"refresh_token": "a0"}, "two": {"refresh_token": "b1"}})
    outcome = VaultConfigFile(str(path), vault).update(
        {"one": {"refresh_token": "a1", "rotated_at": "now"}, "two": {"refresh_token": "b1-stale"}},
        expect={"one": {"refresh_token": "a0"}, "two": {"refresh_token": "b0"}},
    )
    assert (outcome.changed, outcome.fields_changed, outcome.skipped) == (True, {"one": ["refresh_token", "rotated_at"]}, ["two"])
    assert stored_connections(path, vault) == {"one": {"refresh_token": "a1", "rotated_at": "now"}, "two": {"refresh_token": "b1"}}


def test_an_unmet_expectation_leaves_the_file_untouched_in_check_mode_too(tmp_path, vault):
    path = tmp_path / "vault.yml"
    VaultConfigFile(str(path), vault).update({"robot": {"refresh_token": "t2"}})
    before = snapshot(path)
    time.sleep(0.01)
    for check_mode in (True, False):
        outcome = VaultConfigFile(str(path), vault).update(
            {"robot": {"refresh_token": "t1"}}, expect={"robot": {"refresh_token": "t0"}}, check_mode=check_mode
        )
        assert (outcome.changed, outcome.fields_changed, outcome.skipped) == (False, {}, ["robot"])
    assert snapshot(path) == before


def test_a_removal_can_be_conditional(tmp_path, vault):
    path = tmp_path / "vault.yml"
    VaultConfigFile(str(path), vault).update({"robot": {"state": "s2"}})
    assert VaultConfigFile(str(path), vault).update({}, ["robot"], expect={"robot": {"state": "s1"}}).skipped == ["robot"]
    assert VaultConfigFile(str(path), vault).update({}, ["robot"], expect={"robot": {"state": "s2"}}).changed
    assert stored_connections(path, vault) == {}


def test_a_connection_removed_meanwhile_is_not_brought_back_in_part(tmp_path, vault):
    path = tmp_path / "vault.yml"
    VaultConfigFile(str(path), vault).update({"other": {}})
    outcome = VaultConfigFile(str(path), vault).update({"robot": {"refresh_token": "t1"}}, expect={"robot": {"refresh_token": "t0"}})
    assert outcome.skipped == ["robot"] and stored_connections(path, vault) == {"other": {}}


@pytest.mark.parametrize(
    "expect, message",
    [
        ({"ghost": {"refresh_token": "t0"}}, "expect names connections that are neither updated nor removed: ghost"),
        ({"robot": "t0"}, "the expected fields of connection 'robot' must be a mapping of field to value"),
    ],
)
def test_expectations_that_cannot_apply_are_refused(tmp_path, vault, expect, message):
    with pytest.raises(VaultConfigError, match=message) as caught:
        VaultConfigFile(str(tmp_path / "vault.yml"), vault).update({"robot": {"refresh_token": "t1"}}, expect=expect)
    assert "t0" not in str(caught.value)
    assert not (tmp_path / "vault.yml").exists()


def _rotate(path, vault, writer, log):
    """Read the stored token, take a while to "rotate" it, store the child expecting the parent; log what landed."""
    rng = random.Random(writer)
    for round_ in range(3):
        parent = stored_connections(path, vault)["robot"]["refresh_token"]
        time.sleep(rng.uniform(0, 0.05))
        child = f"{parent}/{writer}.{round_}"
        outcome = VaultConfigFile(str(path), vault).update(
            {"robot": {"refresh_token": child}}, expect={"robot": {"refresh_token": parent}}
        )
        if not outcome.skipped:
            log.put((parent, child))


def test_concurrent_rotations_store_one_unbroken_chain(tmp_path, vault):
    """Writers that each store a child of the token they read: every stored token replaced its own parent."""
    path = tmp_path / "vault.yml"
    VaultConfigFile(str(path), vault).update({"robot": {"refresh_token": "t0"}})
    context = multiprocessing.get_context("fork")
    log = context.Queue()
    writers = [context.Process(target=_rotate, args=(path, vault, writer, log)) for writer in range(8)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(60)
        assert writer.exitcode == 0
    writes = [log.get(timeout=5) for dummy in range(log.qsize())]
    landed = dict(writes)
    # No token was replaced twice, and following children from t0 reaches every write: a single chain.
    assert len(landed) == len(writes)
    chain, token = [], "t0"
    while token in landed:
        token = landed[token]
        chain.append(token)
    assert len(chain) == len(landed) >= 3
    assert stored_connections(path, vault)["robot"]["refresh_token"] == chain[-1]
