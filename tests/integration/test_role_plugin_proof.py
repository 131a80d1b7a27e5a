"""The plugin role's Test Connection proves the refresh token it writes; real ansible-playbook runs.

A refresh token counts as proven while the redemption that gave it, accepted by Graph, is younger than
onedrive_plugin_test_after; any other is redeemed, and a failed Test Connection writes no plugin file.
"""

from __future__ import annotations

import datetime
import json

import pytest
import yaml
from ansible.parsing.vault import VaultLib, VaultSecret

ADELE = "adele@contoso.onmicrosoft.com"
PUBLIC_APP = "3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11"
SCOPES = ["offline_access", "User.Read", "Files.Read"]
TOKEN, GRAPH = "token", "batch"


def without_verdict(record):
    """The record without the verdict its last check recorded (connection_status reads it)."""
    return {key: value for key, value in record.items() if key not in ("last_status", "last_reason", "last_checked_at")}


def ago(**delta) -> str:
    moment = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(**delta)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class Vault:
    """The role tests' vault, read and rewritten outside Ansible."""

    def __init__(self, collection_playbook):
        self._playbook = collection_playbook
        password = collection_playbook.password_file.read_text().strip().encode()
        self._lib = VaultLib([("default", VaultSecret(password))])

    def read(self) -> dict:
        return yaml.safe_load(self._lib.decrypt(self._playbook.vault.read_bytes()))

    def record(self) -> dict:
        return self.read()["onedrive_connections"]["robot1"]

    def write(self, record: dict) -> None:
        data = self.read() if self._playbook.vault.exists() else {}
        data.setdefault("onedrive_connections", {})["robot1"] = record
        self._playbook.vault.write_bytes(self._lib.encrypt(yaml.safe_dump(data)))

    def update(self, **fields) -> dict:
        record = {**self.record(), **fields}
        self.write(record)
        return record


@pytest.fixture
def vault(collection_playbook):
    return Vault(collection_playbook)


@pytest.fixture
def bootstrapped(emulator, collection_playbook, vault):
    """Bootstraps connection robot1 the way a user does, and returns its stored record."""
    first = collection_playbook("bootstrap")
    url = next(word for word in first.output.split('"') if "/oauth2/v2.0/authorize?" in word)
    answer = emulator.sign_in(url, ADELE)
    assert collection_playbook("bootstrap", extra_vars={"onedrive_auth_response": answer}).rc == 0
    return vault.record()


def test_a_revoked_grant_fails_test_connection_and_leaves_the_plugin_file_as_it_was(
    emulator, collection_playbook, bootstrapped, vault, tmp_path
):
    # Right after the bootstrap role, its sign-in proves the token: nothing is sent.
    plugin_file = tmp_path / "plugin.json"
    options = dict(onedrive_plugin_config_path=str(plugin_file))
    emulator.clear_log()
    first = collection_playbook("configure_plugin", extra_vars=options)
    assert (first.rc, first.changed) == (0, 1), first.output
    assert "Test Connection: robot1 refresh token proven by its sign-in" in first.output
    assert emulator.log()["counts"] == {}
    before = plugin_file.read_bytes()
    mtime = plugin_file.stat().st_mtime_ns

    # Two hours later the grant is revoked, while the stored access token still looks valid.
    aged = vault.update(obtained_at=ago(hours=2), verified_at=ago(hours=2, seconds=-1))
    assert emulator.revoke(ADELE) >= 1
    emulator.clear_log()
    run = collection_playbook("configure_plugin", extra_vars=options)
    assert run.rc != 0, run.output
    assert "Test Connection: robot1 failed (token_revoked)" in run.output
    assert "Test Connection failed for robot1 (token_revoked)" in run.output
    assert "ansible-playbook onedrive.connection.bootstrap" in run.output
    assert "-e onedrive_connection=robot1" in run.output
    assert "verified as" not in run.output
    assert emulator.log()["counts"] == {TOKEN: 1}
    assert plugin_file.read_bytes() == before and plugin_file.stat().st_mtime_ns == mtime
    assert bootstrapped["refresh_token"] not in run.output

    # The failed refresh stored nothing but its verdict (for connection_status): the token is as old as it was, so
    # it is redeemed (and fails) again, and a plugin file that was never written is not written now either.
    assert without_verdict(vault.record()) == aged
    assert (vault.record()["last_status"], vault.record()["last_reason"]) == ("failed", "token_revoked")
    fresh_file = tmp_path / "fresh" / "plugin.json"
    emulator.clear_log()
    again = collection_playbook("configure_plugin", extra_vars=dict(onedrive_plugin_config_path=str(fresh_file)))
    assert again.rc != 0 and "Test Connection failed for robot1 (token_revoked)" in again.output, again.output
    assert emulator.log()["counts"] == {TOKEN: 1}
    assert not fresh_file.exists() and not fresh_file.parent.exists()
    assert without_verdict(vault.record()) == aged


def test_a_refresh_whose_check_failed_proves_nothing(emulator, collection_playbook, vault, tmp_path):
    token = emulator.grant(PUBLIC_APP, ADELE, SCOPES)["refresh_token"]
    vault.write(dict(client_id=PUBLIC_APP, refresh_token=token, obtained_at=ago(days=8)))
    plugin_file = tmp_path / "plugin.json"
    options = dict(onedrive_plugin_config_path=str(plugin_file), onedrive_max_retry_wait="1")

    # The refresh works, Graph fails: the rotated token goes to the vault, but not to the plugin's file.
    emulator.fault(GRAPH, "status", status=500)
    run = collection_playbook("configure_plugin", extra_vars=options)
    assert run.rc != 0 and "Test Connection failed for robot1 (server_error)" in run.output, run.output
    assert "the refresh token the service rotated is stored in the vault" in run.output
    assert "Run again once that is fixed or has passed." in run.output
    assert not plugin_file.exists()
    stored = vault.record()
    assert stored["refresh_token"] != token and "rotated_at" in stored and "verified_at" not in stored

    # Rotated a moment ago, but never accepted by Graph: the next run redeems it rather than trusting it.
    emulator.clear_log()
    again = collection_playbook("configure_plugin", extra_vars=options)
    assert again.rc == 0, again.output
    assert emulator.log()["counts"] == {TOKEN: 1, GRAPH: 1}
    assert f"Test Connection: robot1 refresh token redeemed and verified as {ADELE}" in again.output
    now_stored = vault.record()
    assert now_stored["verified_at"] == now_stored["rotated_at"]
    assert json.loads(plugin_file.read_text()) == {"client_id": PUBLIC_APP, "refresh_token": now_stored["refresh_token"]}


def test_a_rerun_right_after_a_redemption_changes_nothing_and_sends_nothing(
    emulator, collection_playbook, bootstrapped, vault, tmp_path
):
    plugin_file = tmp_path / "plugin.json"
    options = dict(onedrive_plugin_config_path=str(plugin_file))
    # Older than onedrive_plugin_test_after (10m here): redeemed, verified, and written.
    vault.update(obtained_at=ago(minutes=11), verified_at=ago(minutes=11))
    emulator.clear_log()
    run = collection_playbook("configure_plugin", extra_vars=dict(options, onedrive_plugin_test_after="10m"))
    assert (run.rc, run.changed) == (0, 2), run.output
    assert f"Test Connection: robot1 refresh token redeemed and verified as {ADELE}, drive business" in run.output
    assert emulator.log()["counts"] == {TOKEN: 1, GRAPH: 1}
    stored = vault.record()
    assert json.loads(plugin_file.read_text())["refresh_token"] == stored["refresh_token"] != bootstrapped["refresh_token"]
    mtime = plugin_file.stat().st_mtime_ns

    emulator.clear_log()
    again = collection_playbook("configure_plugin", extra_vars=dict(options, onedrive_plugin_test_after="10m"))
    assert (again.rc, again.changed) == (0, 0), again.output
    assert emulator.log()["counts"] == {}
    assert "Test Connection: robot1 refresh token proven by its rotation" in again.output
    assert vault.record() == stored
    assert plugin_file.stat().st_mtime_ns == mtime


def test_check_mode_would_redeem_and_sends_nothing(emulator, collection_playbook, bootstrapped, vault, tmp_path):
    plugin_file = tmp_path / "plugin.json"
    aged = vault.update(obtained_at=ago(hours=2), verified_at=ago(hours=2))
    emulator.clear_log()
    run = collection_playbook("configure_plugin", check=True, extra_vars=dict(onedrive_plugin_config_path=str(plugin_file)))
    assert run.rc == 0 and run.changed, run.output
    assert "Test Connection: robot1 would redeem the refresh token" in run.output
    assert emulator.log()["counts"] == {}
    assert vault.record() == aged and not plugin_file.exists()
