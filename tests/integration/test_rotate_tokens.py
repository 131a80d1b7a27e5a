"""onedrive.connection.rotate_tokens with vault_config: the batch path, through real ansible-playbook runs."""

from __future__ import annotations

import pathlib

import pytest
import yaml
from ansible.parsing.vault import VaultLib, VaultSecret

PLAYBOOK = pathlib.Path(__file__).parent / "playbooks" / "rotate_tokens" / "rotate_and_store.yml"
PUBLIC_APP = "3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11"
CONFIDENTIAL_APP = "8c2a9f4e-6b1d-4f3a-9e2c-7d5b0a1c3e22"
SCOPES = ["offline_access", "User.Read", "Files.Read"]
PASSWORD = "rotation test password"


@pytest.fixture
def vault(tmp_path):
    """Writes connections into a real vault file and reads them back."""
    lib = VaultLib([("default", VaultSecret(PASSWORD.encode()))])
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n")
    path = tmp_path / "vault.yml"

    class Vault:
        def write(self, connections):
            path.write_bytes(lib.encrypt(yaml.safe_dump({"onedrive_connections": connections}, sort_keys=False)))

        def read(self):
            return yaml.safe_load(lib.decrypt(path.read_bytes()))["onedrive_connections"]

    Vault.path, Vault.password_file = path, password_file
    return Vault()


def connection(emulator, user, client_id=PUBLIC_APP, **extra):
    tokens = emulator.grant(client_id, user, SCOPES)
    return dict(client_id=client_id, refresh_token=tokens["refresh_token"], **extra)


@pytest.fixture
def rotate(ansible_run, emulator, vault):
    def run(check=False, **variables):
        variables = dict(
            vault_path=str(vault.path), emulator_url=emulator.base_url, ca_path=str(emulator.ca_path), **variables
        )
        result = ansible_run(str(PLAYBOOK), extra_vars=variables, vault_password_file=vault.password_file, check=check)
        assert result.rc == 0, result.output
        run.last = result
        return result.task("Report")["msg"]

    return run


def test_mixed_results_are_reported_per_connection_and_every_good_token_stored_in_one_write(emulator, vault, rotate):
    stored = {
        "throttled": connection(emulator, "adele@contoso.onmicrosoft.com"),
        "fine": connection(emulator, "megan@outlook.com"),
        "revoked": connection(emulator, "alex@fabrikam.onmicrosoft.com"),
        "mfa": connection(emulator, "mfa@contoso.onmicrosoft.com"),
        "no_drive": connection(emulator, "nodrive@contoso.onmicrosoft.com"),
        "confidential": connection(
            emulator, "alex@fabrikam.onmicrosoft.com", CONFIDENTIAL_APP, client_secret="emu-secret-8c2a9f4e-value"
        ),
    }
    vault.write(stored)
    emulator.revoke("alex@fabrikam.onmicrosoft.com")
    # One at a time, so the one throttled answer goes to the first connection.
    emulator.fault("token", "status", status=429, retry_after="30", count=1)

    report = rotate(max_workers=1, max_retry_wait=1)

    results = report["results"]
    assert report["failed"] is True and report["changed"] is True
    assert report["statuses"]["rotated"] == ["fine"]
    assert sorted(report["statuses"]["failed"]) == ["confidential", "mfa", "no_drive", "revoked", "throttled"]
    assert results["throttled"]["reason"] == "throttled" and results["throttled"]["retry_after"] == 30
    assert results["revoked"]["reason"] == "token_revoked"
    assert results["confidential"]["reason"] == "token_revoked"
    assert results["mfa"]["reason"] == "mfa_required"
    assert results["no_drive"]["reason"] == "no_drive"
    assert sorted(report["reauthorize"]) == ["confidential", "mfa", "revoked"]
    assert results["fine"]["user"]["account_type"] == "personal"
    # no_drive failed on Graph after its refresh: its rotated token is stored all the same.
    assert sorted(report["updated"]) == ["fine", "no_drive"]

    store = rotate.last.task("Store")
    assert store["changed"] is True and sorted(store["connections_changed"]) == ["fine", "no_drive"]
    after = vault.read()
    for name in ("fine", "no_drive"):
        assert after[name]["refresh_token"] != stored[name]["refresh_token"]
        assert after[name]["rotated_at"].endswith("Z")
    for name in ("throttled", "revoked", "mfa", "confidential"):
        assert after[name] == stored[name]
    assert after["fine"]["verified_at"] and "verified_at" not in after["no_drive"]
    for secret in emulator.issued():
        assert secret not in rotate.last.output


def test_many_connections_cost_two_requests_each_and_a_rerun_with_nothing_due_costs_none(emulator, vault, rotate):
    users = ["adele@contoso.onmicrosoft.com", "megan@outlook.com", "alex@fabrikam.onmicrosoft.com"]
    vault.write({f"robot{n}": connection(emulator, users[n % 3]) for n in range(24)})
    emulator.clear_log()

    report = rotate(rotate_after="7d")
    assert len(report["statuses"]["rotated"]) == 24 and report["failed"] is False
    counts = emulator.log()["counts"]
    assert (counts.get("token"), counts.get("batch")) == (24, 24)

    emulator.clear_log()
    before = vault.path.read_bytes(), vault.path.stat().st_mtime_ns
    again = rotate(rotate_after="7d")
    assert len(again["statuses"]["not_due"]) == 24 and again["changed"] is False
    assert emulator.log()["counts"] == {}
    assert (vault.path.read_bytes(), vault.path.stat().st_mtime_ns) == before
    assert rotate.last.changed == 0


def test_a_check_of_what_is_not_due_uses_the_stored_access_token(emulator, vault, rotate):
    vault.write({"robot": connection(emulator, "adele@contoso.onmicrosoft.com")})
    rotate(rotate_after="7d")
    emulator.clear_log()
    before = vault.path.read_bytes()

    report = rotate(rotate_after="7d", check_not_due=True)
    assert report["statuses"]["verified"] == ["robot"] and report["changed"] is False
    assert emulator.log()["counts"] == {"batch": 1}
    assert vault.path.read_bytes() == before

    emulator.advance_clock(2 * 3600)  # Graph now refuses the stored access token: the refresh token decides
    emulator.clear_log()
    report = rotate(rotate_after="7d", check_not_due=True)
    assert report["statuses"]["rotated"] == ["robot"]
    assert emulator.log()["counts"] == {"batch": 2, "token": 1}


def test_check_mode_rotates_nothing(emulator, vault, rotate):
    vault.write({"robot": connection(emulator, "adele@contoso.onmicrosoft.com")})
    emulator.clear_log()
    before = vault.path.read_bytes()
    report = rotate(check=True)
    assert report["statuses"]["skipped"] == ["robot"] and report["changed"] is True
    assert emulator.log()["counts"] == {}
    assert vault.path.read_bytes() == before
