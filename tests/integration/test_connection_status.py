"""onedrive.connection.connection_status and the status playbook: the health of every stored connection, from
what the store holds and the verdict the last check recorded there, in both stores."""

from __future__ import annotations

import datetime
import json

import pytest
import yaml
from ansible.parsing.vault import VaultLib, VaultSecret

from openbao import ROOT_TOKEN

PUBLIC_APP = "3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11"
SCOPES = ["offline_access", "User.Read", "Files.Read"]
ADELE, ALEX, MEGAN = "adele@contoso.onmicrosoft.com", "alex@fabrikam.onmicrosoft.com", "megan@outlook.com"
ROTATE_TASK = "Rotate the tokens that are due, and store them"
STATUS_TASK = "Read the status of the connections"
STATUS_FIELDS = ("last_status", "last_reason", "last_checked_at")


def days_ago(days):
    moment = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=days)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def seconds(timestamp):
    return datetime.datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


def without_status(record):
    return {key: value for key, value in record.items() if key not in STATUS_FIELDS}


def records(emulator, **connections):
    """Stored records for (user, days since obtained) per name, as the bootstrap role writes them."""
    return {
        name: dict(client_id=PUBLIC_APP, refresh_token=emulator.grant(PUBLIC_APP, user, SCOPES)["refresh_token"],
                   obtained_at=days_ago(age), scopes=SCOPES)
        for name, (user, age) in connections.items()
    }


def assert_no_secret(emulator, run, *more):
    shown = run.output + json.dumps(run.tasks)
    for text in more:
        shown += text
    leaked = [secret for secret in emulator.issued() if secret in shown]
    assert not leaked, f"{len(leaked)} issued secrets in the output"


@pytest.fixture
def vault(collection_playbook):
    lib = VaultLib([("default", VaultSecret(collection_playbook.password_file.read_text().strip().encode()))])

    class Vault:
        path = collection_playbook.vault

        def write(self, connections):
            self.path.write_bytes(lib.encrypt(yaml.safe_dump({"onedrive_connections": connections})))

        def read(self):
            return collection_playbook.read()["onedrive_connections"]

    return Vault()


def test_a_revoked_connection_shows_down_with_its_reason_after_a_rotation_found_it(
    emulator, collection_playbook, vault, tmp_path
):
    stored = records(emulator, fine=(ADELE, 8), gone=(ALEX, 8), fresh=(MEGAN, 1))
    vault.write(stored)
    emulator.revoke(ALEX)

    rotation = collection_playbook("rotate")
    assert rotation.rc != 0 and "gone needs a new sign-in (token_revoked)" in rotation.output
    result = rotation.task(ROTATE_TASK)
    # The verdicts are bookkeeping: gone's is written, but it is no change of gone.
    assert list(result["connections_changed"]) == ["fine"] and result["connections_skipped"] == []
    after = vault.read()
    assert (after["gone"]["last_status"], after["gone"]["last_reason"]) == ("failed", "token_revoked")
    assert without_status(after["gone"]) == stored["gone"]
    assert after["fine"]["last_status"] == "rotated" and "last_reason" not in after["fine"]
    assert after["fine"]["last_checked_at"] == after["fine"]["verified_at"]
    assert after["fresh"] == stored["fresh"]

    json_file, metrics_file = tmp_path / "status.json", tmp_path / "onedrive.prom"
    emulator.clear_log()
    mtime = vault.path.stat().st_mtime_ns
    options = dict(onedrive_status_json_file=str(json_file), onedrive_status_metrics_file=str(metrics_file))
    run = collection_playbook("status", extra_vars=options, verbosity=4)
    assert run.rc == 0, run.output
    assert run.changed == 1  # the two files
    assert emulator.log()["counts"] == {} and vault.path.stat().st_mtime_ns == mtime
    assert_no_secret(emulator, run, json_file.read_text(), metrics_file.read_text())
    assert collection_playbook.password_file.read_text().strip() not in run.output

    status = run.task(STATUS_TASK)
    connections = status["connections"]
    assert (status["down"], status["unknown"], status["up"], status["reauthorize"]) == (["gone"], ["fresh"], ["fine"], ["gone"])
    gone = connections["gone"]
    assert (gone["up"], gone["reason"], gone["needs_authorization"]) == (False, "token_revoked", True)
    assert gone["advice"] == "sign in again with the bootstrap role"
    fine = connections["fine"]
    assert (fine["up"], fine["reason"], fine["user_principal_name"], fine["drive_type"]) == (True, None, ADELE, "business")
    assert fine["rotated_at"] == after["fine"]["rotated_at"] and fine["verified_at"] == after["fine"]["verified_at"]
    assert seconds(fine["refresh_token_expires_at"]) - seconds(fine["rotated_at"]) == 90 * 86400
    assert seconds(fine["next_rotation_due_at"]) - seconds(fine["rotated_at"]) == 7 * 86400
    assert fine["rotation_due"] is False and fine["refresh_token_age_seconds"] < 600 and fine["advice"] == "ok"
    assert fine["scopes"] and set(SCOPES) <= set(fine["scopes"])
    fresh = connections["fresh"]
    assert (fresh["up"], fresh["reason"], fresh["rotated_at"], fresh["verified_at"]) == (None, None, None, None)
    assert seconds(fresh["refresh_token_expires_at"]) - seconds(stored["fresh"]["obtained_at"]) == 90 * 86400
    assert 86000 < fresh["refresh_token_age_seconds"] < 87000 and fresh["refresh_token_age_days"] == 1.0

    # The table: the header, then the unhealthy ones first, with what to do and the command that repairs.
    table = status["table"]
    assert table[0].startswith("CONNECTION") and [line.split()[0] for line in table[1:]] == ["gone", "fresh", "fine"]
    assert "DOWN" in table[1] and "token_revoked" in table[1] and "unknown" in table[2]
    assert f"gone: ansible-playbook onedrive.connection.bootstrap --vault-password-file {collection_playbook.password_file}" in run.output
    assert f"-e onedrive_connection=gone -e onedrive_client_id={PUBLIC_APP} -e onedrive_force_authorize=true" in run.output

    document = json.loads(json_file.read_text())
    assert document["connections"]["gone"]["reason"] == "token_revoked"
    assert "refresh_token_age_seconds" not in document["connections"]["fine"]
    assert "refresh_token" not in document["connections"]["fine"]
    assert oct(json_file.stat().st_mode & 0o777) == "0o644"

    # Nothing changed in the store: the files stay as they are, and the run reports no change.
    again = collection_playbook("status", extra_vars=options)
    assert (again.rc, again.changed) == (0, 0), again.output
    assert again.task(STATUS_TASK)["files_written"] == []


def test_a_rerun_with_nothing_to_do_and_a_steady_check_write_nothing(emulator, collection_playbook, vault):
    vault.write(records(emulator, fine=(ADELE, 8)))
    first = collection_playbook("rotate")
    assert (first.rc, first.changed) == (0, 1), first.output
    mtime = vault.path.stat().st_mtime_ns

    # Verified with the stored access token: the verdict is the one recorded, so nothing is written.
    emulator.clear_log()
    checked = collection_playbook("rotate", extra_vars={"onedrive_rotate_check_not_due": True})
    assert (checked.rc, checked.changed) == (0, 0), checked.output
    assert "fine: verified" in checked.output and emulator.log()["counts"] == {"batch": 1}
    assert vault.path.stat().st_mtime_ns == mtime

    again = collection_playbook("rotate")
    assert (again.rc, again.changed) == (0, 0) and vault.path.stat().st_mtime_ns == mtime


def test_a_connection_without_a_token_or_past_its_window_is_down_whatever_its_last_check_said(
    emulator, collection_playbook, vault
):
    stored = records(emulator, expired=(ADELE, 95), empty=(MEGAN, 1))
    stored["expired"].update(last_status="rotated", verified_at=days_ago(95), last_checked_at=days_ago(95))
    stored["empty"].update(refresh_token="", last_status="verified")
    vault.write(stored)

    # As -e name=value gives them: text.
    run = collection_playbook("status", extra_vars={
        "onedrive_status_fail_on_down": "true", "onedrive_status_verify": "false", "onedrive_rotate_workers": "8",
        "onedrive_status_connections": "empty,expired", "onedrive_timeout": "10",
    })
    assert run.rc != 0 and "Down: empty, expired (see the table above)." in run.output, run.output
    connections = run.task(STATUS_TASK)["connections"]
    assert (connections["expired"]["up"], connections["expired"]["reason"]) == (False, "token_expired")
    assert (connections["empty"]["up"], connections["empty"]["reason"]) == (False, "token_invalid")
    assert connections["empty"]["refresh_token_stored"] is False


def test_verify_in_openbao_records_the_verdicts_and_reports_them(emulator, openbao, collection_playbook):
    path = openbao.new_path()
    stored = records(emulator, fine=(ADELE, 1), gone=(ALEX, 1))
    openbao.write(path, stored)
    emulator.revoke(ALEX)
    extra_vars = dict(
        onedrive_store="hashi_vault", onedrive_hashi_vault={"url": openbao.url, "path": path}, onedrive_vault_file="",
    )

    # Without verify nothing is asked, and neither is known.
    quiet = collection_playbook("status", extra_vars=extra_vars, env={"VAULT_TOKEN": ROOT_TOKEN})
    assert quiet.rc == 0, quiet.output
    assert quiet.task(STATUS_TASK)["unknown"] == ["fine", "gone"]

    emulator.clear_log()
    run = collection_playbook(
        "status", extra_vars=dict(extra_vars, onedrive_status_verify=True), env={"VAULT_TOKEN": ROOT_TOKEN}, verbosity=4
    )
    assert run.rc == 0, run.output
    assert_no_secret(emulator, run)
    status = run.task(STATUS_TASK)
    assert (status["up"], status["down"]) == (["fine"], ["gone"])
    assert status["connections"]["gone"]["reason"] == "token_revoked"
    assert status["verification"]["statuses"]["failed"] == ["gone"]
    # Neither had an access token: each was redeemed once, under a claim, and fine's new token stored.
    assert emulator.log()["counts"] == {"token": 2, "batch": 1}
    after = openbao.read(path)
    assert after["fine"]["refresh_token"] != stored["fine"]["refresh_token"] and "claim" not in after["fine"]
    assert (after["gone"]["last_status"], after["gone"]["last_reason"]) == ("failed", "token_revoked")
    assert without_status(after["gone"]) == stored["gone"]


@pytest.mark.tooling
def test_the_metrics_file_parses_and_matches_the_store(emulator, collection_playbook, vault, tmp_path):
    from prometheus_client.parser import text_string_to_metric_families

    stored = records(emulator, fine=(ADELE, 8), gone=(ALEX, 8), fresh=(MEGAN, 1))
    stored['odd"name\\'] = dict(stored.pop("fresh"))
    vault.write(stored)
    emulator.revoke(ALEX)
    assert collection_playbook("rotate").rc != 0
    after = vault.read()

    metrics_file = tmp_path / "textfile" / "onedrive.prom"
    metrics_file.parent.mkdir()
    run = collection_playbook("status", extra_vars={"onedrive_status_metrics_file": str(metrics_file)})
    assert run.rc == 0, run.output
    assert [path.name for path in metrics_file.parent.iterdir()] == ["onedrive.prom"]

    samples = {}
    for family in text_string_to_metric_families(metrics_file.read_text()):
        assert family.type == "gauge"
        for sample in family.samples:
            samples[sample.name, sample.labels["connection"]] = (sample.value, sample.labels)
    up = {name: value for (metric, name), (value, dummy) in samples.items() if metric == "onedrive_connection_up"}
    assert up == {"fine": 1, "gone": 0, 'odd"name\\': 0}
    assert samples["onedrive_connection_last_rotation_timestamp_seconds", "fine"][0] == seconds(after["fine"]["rotated_at"])
    assert samples["onedrive_connection_last_verification_timestamp_seconds", "fine"][0] == seconds(after["fine"]["verified_at"])
    assert samples["onedrive_connection_refresh_token_expiry_timestamp_seconds", "fine"][0] == (
        seconds(after["fine"]["rotated_at"]) + 90 * 86400
    )
    # gone was never rotated: its token is the one of its sign-in; it was never verified, so it has no sample.
    assert samples["onedrive_connection_last_rotation_timestamp_seconds", "gone"][0] == seconds(after["gone"]["obtained_at"])
    assert ("onedrive_connection_last_verification_timestamp_seconds", "gone") not in samples
    value, labels = samples["onedrive_connection_info", "fine"]
    assert value == 1 and labels == {
        "connection": "fine", "user_principal_name": ADELE, "account_type": "work", "drive_type": "business"
    }
    assert samples["onedrive_connection_info", "gone"][1]["user_principal_name"] == ""


def test_refusals_name_what_to_correct_and_write_nothing(emulator, collection_playbook, vault, tmp_path):
    vault.write(records(emulator, fine=(ADELE, 1)))
    unknown = collection_playbook("status", extra_vars={"onedrive_status_connections": ["fine", "nope"]})
    assert unknown.rc != 0 and "holds no connection nope (it holds fine): correct names." in unknown.output
    nowhere = tmp_path / "missing" / "onedrive.prom"
    folder = collection_playbook("status", extra_vars={"onedrive_status_metrics_file": str(nowhere)})
    assert folder.rc != 0 and f"metrics_file: {nowhere} could not be written: No such file or directory." in folder.output, folder.output
    assert not nowhere.parent.exists()
    absent = collection_playbook("status", extra_vars={"onedrive_vault_file": str(tmp_path / "none.yml")})
    assert absent.rc != 0 and "none.yml does not exist, so there is nothing to report" in absent.output
