"""The onedrive.connection.rotate role, through the collection's rotate playbook."""

from __future__ import annotations

import datetime

import pytest
import yaml
from ansible.parsing.vault import VaultLib, VaultSecret

PUBLIC_APP = "3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11"
SCOPES = ["offline_access", "User.Read", "Files.Read"]


def without_verdict(record):
    """The record without the verdict its last check recorded (connection_status reads it)."""
    return {key: value for key, value in record.items() if key not in ("last_status", "last_reason", "last_checked_at")}


def days_ago(days):
    moment = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=days)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def stored(emulator, collection_playbook):
    """Writes connections (user, days since obtained) into the role tests' vault; returns what it wrote."""

    def write(**connections):
        records = {}
        for name, (user, age) in connections.items():
            tokens = emulator.grant(PUBLIC_APP, user, SCOPES)
            records[name] = dict(client_id=PUBLIC_APP, refresh_token=tokens["refresh_token"], obtained_at=days_ago(age))
        lib = VaultLib([("default", VaultSecret(collection_playbook.password_file.read_text().strip().encode()))])
        collection_playbook.vault.write_bytes(lib.encrypt(yaml.safe_dump({"onedrive_connections": records})))
        return records

    return write


def test_only_due_connections_rotate_and_a_rerun_changes_nothing(emulator, collection_playbook, stored):
    before = stored(old=("adele@contoso.onmicrosoft.com", 8), fresh=("megan@outlook.com", 1))
    emulator.clear_log()

    run = collection_playbook("rotate")
    assert (run.rc, run.changed) == (0, 1), run.output
    assert "old: rotated (adele@contoso.onmicrosoft.com)" in run.output and "fresh: not_due" in run.output
    assert emulator.log()["counts"] == {"token": 1, "batch": 1}
    after = collection_playbook.read()["onedrive_connections"]
    assert after["old"]["refresh_token"] != before["old"]["refresh_token"] and after["old"]["rotated_at"]
    assert after["fresh"] == before["fresh"]

    emulator.clear_log()
    mtime = collection_playbook.vault.stat().st_mtime_ns
    again = collection_playbook("rotate")
    assert (again.rc, again.changed) == (0, 0), again.output
    assert emulator.log()["counts"] == {}
    assert collection_playbook.vault.stat().st_mtime_ns == mtime


def test_a_revoked_connection_fails_the_run_by_name_while_the_others_rotate(emulator, collection_playbook, stored):
    before = stored(
        one=("adele@contoso.onmicrosoft.com", 8), two=("megan@outlook.com", 8), gone=("alex@fabrikam.onmicrosoft.com", 8)
    )
    emulator.revoke("alex@fabrikam.onmicrosoft.com")

    run = collection_playbook("rotate")
    assert run.rc != 0
    assert "gone needs a new sign-in (token_revoked)" in run.output
    # The vault options this run was given, so that the command runs in a pipeline too (issue 12, item 6).
    command = (
        f"ansible-playbook onedrive.connection.bootstrap --vault-password-file {collection_playbook.password_file}"
        f" -e onedrive_vault_file={collection_playbook.vault}"
    )
    assert command in run.output and "--ask-vault-pass" not in run.output
    assert "['" not in run.output.split("TASK [onedrive.connection.rotate : Stop when a connection failed]")[1]
    assert f"-e onedrive_connection=gone -e onedrive_client_id={PUBLIC_APP} -e onedrive_force_authorize=true" in run.output
    after = collection_playbook.read()["onedrive_connections"]
    for name in ("one", "two"):
        assert after[name]["refresh_token"] != before[name]["refresh_token"]
    assert without_verdict(after["gone"]) == before["gone"] and after["gone"]["last_reason"] == "token_revoked"


def test_strict_rotation_never_reuses_a_rotated_out_token(emulator, collection_playbook, stored):
    emulator.strict(True)
    stored(robot=("adele@contoso.onmicrosoft.com", 8))
    for _ in range(3):
        run = collection_playbook("rotate", extra_vars={"onedrive_rotate_force": True})
        assert run.rc == 0, run.output
        assert "robot: rotated" in run.output
