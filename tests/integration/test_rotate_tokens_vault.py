"""onedrive.connection.rotate_tokens given path: the action reads the vaulted file and stores what rotated in it."""

from __future__ import annotations

import json
import pathlib
import stat
import textwrap
import threading
import time

import pytest
import yaml
from ansible.parsing.vault import VaultLib, VaultSecret

PLAYBOOK = pathlib.Path(__file__).parent / "playbooks" / "rotate_tokens" / "rotate_vault.yml"
PUBLIC_APP = "3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11"
SCOPES = ["offline_access", "User.Read", "Files.Read"]
PASSWORD = "vaulted rotation password"
LIB = VaultLib([("default", VaultSecret(PASSWORD.encode()))])


class _InlineLoader(yaml.SafeLoader):
    """Loads an inline-vaulted file, each `!vault` value as ("vault", plaintext) to tell it from a plain one."""


_InlineLoader.add_constructor("!vault", lambda loader, node: ("vault", LIB.decrypt(node.value).decode()))


def without_verdict(record):
    """The record without the verdict its last check recorded (connection_status reads it)."""
    return {key: value for key, value in record.items() if key not in ("last_status", "last_reason", "last_checked_at")}


def snapshot(path):
    info = path.stat()
    return path.read_bytes(), info.st_mtime_ns, stat.S_IMODE(info.st_mode)


def connection(emulator, user, **extra):
    tokens = emulator.grant(PUBLIC_APP, user, SCOPES)
    return dict(client_id=PUBLIC_APP, refresh_token=tokens["refresh_token"], **extra)


def assert_no_secret(emulator, run):
    shown = run.output + json.dumps(run.tasks)
    leaked = [secret for secret in emulator.issued() if secret in shown]
    assert not leaked, f"{len(leaked)} issued secrets in the output"


@pytest.fixture
def vault(tmp_path):
    """The vaulted file (encrypted as a whole) and the password file the runs use."""
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n")
    path = tmp_path / "vault" / "onedrive.yml"
    path.parent.mkdir()

    class Vault:
        def write(self, connections):
            path.write_bytes(LIB.encrypt(yaml.safe_dump({"onedrive_connections": connections}, sort_keys=False)))

        def read(self):
            return yaml.safe_load(LIB.decrypt(path.read_bytes()))["onedrive_connections"]

    Vault.path, Vault.password_file = path, password_file
    return Vault()


@pytest.fixture
def rotate(ansible_run, emulator, vault):
    """Runs the playbook on the vault; returns the run, whose task "Rotate" (or "Refuse") holds the result."""

    def run(rotates=True, **options):
        variables = dict(
            vault_path=str(vault.path), emulator_url=emulator.base_url, ca_path=str(emulator.ca_path),
            **options.pop("extra_vars", {}),
        )
        result = ansible_run(PLAYBOOK, extra_vars=variables, vault_password_file=vault.password_file, **options)
        assert result.rc == 0, result.output
        assert_no_secret(emulator, result)
        if rotates and "refusals" not in variables:
            # Failed connections fail the task; a task that could not rotate at all has no connection_results.
            assert "connection_results" in result.task("Rotate"), result.output
        return result

    return run


def test_mixed_results_store_every_rotated_token_in_one_write_and_show_no_token(emulator, vault, rotate):
    stored = {
        "throttled": connection(emulator, "adele@contoso.onmicrosoft.com"),
        "revoked": connection(emulator, "alex@fabrikam.onmicrosoft.com"),
        "fine": connection(emulator, "megan@outlook.com"),
        "also_fine": connection(emulator, "adele@contoso.onmicrosoft.com", tenant="contoso.onmicrosoft.com"),
        "no_drive": connection(emulator, "nodrive@contoso.onmicrosoft.com"),
    }
    vault.write(stored)
    original = vault.path.read_bytes()
    emulator.revoke("alex@fabrikam.onmicrosoft.com")
    # One at a time, so the one throttled answer goes to the first connection.
    emulator.fault("token", "status", status=429, retry_after="30", count=1)

    run = rotate(extra_vars=dict(max_workers=1, max_retry_wait=1, backup=True), diff=True, verbosity=4)

    result = run.task("Rotate")
    [task] = [task for task in yaml.safe_load(PLAYBOOK.read_text())[0]["tasks"] if task["name"] == "Rotate"]
    assert "no_log" not in task and "censored" not in result
    assert [entry["status"] for entry in run.tasks if entry["name"] == "Rotate"] == ["failed"]
    assert result["changed"] is True
    assert "3 of 5 connections failed" in result["msg"]
    assert result["statuses"]["rotated"] == ["fine", "also_fine"]
    assert result["statuses"]["failed"] == ["throttled", "revoked", "no_drive"]
    outcomes = result["connection_results"]
    assert outcomes["throttled"]["reason"] == "throttled" and outcomes["throttled"]["retry_after"] == 30
    assert outcomes["revoked"]["reason"] == "token_revoked" and result["reauthorize"] == ["revoked"]
    assert outcomes["no_drive"]["reason"] == "no_drive"
    assert "updates" not in result and result["path"] == str(vault.path)
    assert result["connections_skipped"] == []
    # no_drive failed on Graph after its refresh: the service rotated its token, so the new one is kept.
    assert sorted(result["connections_changed"]) == ["also_fine", "fine", "no_drive"]
    assert "refresh_token" in result["connections_changed"]["no_drive"]

    after = vault.read()
    for name in ("fine", "also_fine", "no_drive"):
        assert after[name]["refresh_token"] != stored[name]["refresh_token"]
        assert after[name]["rotated_at"].endswith("Z") and after[name]["access_token"]
    assert after["fine"]["verified_at"] and "verified_at" not in after["no_drive"]
    for name in ("throttled", "revoked"):
        assert without_verdict(after[name]) == stored[name]
    # A failed connection's verdict is recorded in the same write, without counting as a change.
    assert (after["revoked"]["last_status"], after["revoked"]["last_reason"]) == ("failed", "token_revoked")
    assert (after["throttled"]["last_reason"], after["fine"]["last_status"]) == ("throttled", "rotated")
    # One write: a second would have left a second backup, or one of the first write's content.
    backups = list(vault.path.parent.glob(f"{vault.path.name}.*~"))
    assert [str(path) for path in backups] == [result["backup_file"]]
    assert backups[0].read_bytes() == original

    [diff] = result["diff"]
    assert "******** (changed)" in diff["after"] and "also_fine:" in diff["after"] and "revoked" not in diff["after"]
    assert "******** (changed)" in run.output  # the diff callback showed it, and assert_no_secret saw no token
    # The play's host is the controller: the rotation ran in the action, without a module process.
    assert "AnsiballZ_rotate_tokens" not in run.output


def test_on_another_host_the_module_rotates_there_and_the_controller_stores(emulator, vault, rotate):
    stored = {
        "fine": connection(emulator, "megan@outlook.com"),
        "revoked": connection(emulator, "alex@fabrikam.onmicrosoft.com"),
    }
    vault.write(stored)
    emulator.revoke("alex@fabrikam.onmicrosoft.com")

    # The elsewhere connection (tests/integration/connection_plugins) is local under another name.
    run = rotate(extra_vars=dict(ansible_connection="elsewhere", names=["fine", "revoked"]), verbosity=3)

    assert "AnsiballZ_rotate_tokens" in run.output  # the module ran on the host
    result = run.task("Rotate")
    assert "1 of 2 connections failed (revoked: token_revoked)" in result["msg"]
    assert result["statuses"]["rotated"] == ["fine"] and result["reauthorize"] == ["revoked"]
    assert "updates" not in result and "connections" not in result["invocation"]["module_args"]
    assert list(result["connections_changed"]) == ["fine"]
    after = vault.read()
    assert after["fine"]["refresh_token"] != stored["fine"]["refresh_token"] and after["fine"]["verified_at"]
    assert without_verdict(after["revoked"]) == stored["revoked"] and after["revoked"]["last_reason"] == "token_revoked"


def test_inline_values_stay_inline_with_the_file_mode_and_a_rerun_with_nothing_due_touches_nothing(
    emulator, vault, rotate
):
    tokens = emulator.grant(PUBLIC_APP, "megan@outlook.com", SCOPES)

    def vaulted(value):
        return "!vault |\n" + textwrap.indent(LIB.encrypt(value).decode(), " " * 6)

    vault.path.write_text(
        "other_setting: plain value\n"
        "onedrive_connections:\n"
        "  robot:\n"
        f"    client_id: {PUBLIC_APP}\n"
        "    tenant: consumers\n"
        f"    refresh_token: {vaulted(tokens['refresh_token'])}"
        f"    access_token: {vaulted(tokens['access_token'])}"
    )
    vault.path.chmod(0o640)

    run = rotate(extra_vars=dict(rotate_after="7d"))
    assert run.task("Rotate")["statuses"]["rotated"] == ["robot"] and run.changed == 1

    content = vault.path.read_text()
    assert not content.startswith("$ANSIBLE_VAULT") and content.count("!vault |") == 2
    data = yaml.load(content, Loader=_InlineLoader)
    robot = data["onedrive_connections"]["robot"]
    assert data["other_setting"] == "plain value"
    assert (robot["client_id"], robot["tenant"], robot["user_principal_name"]) == (
        PUBLIC_APP, "consumers", "megan@outlook.com"
    )
    for field, old in (("refresh_token", tokens["refresh_token"]), ("access_token", tokens["access_token"])):
        kind, value = robot[field]
        assert kind == "vault" and value != old and value in emulator.issued()
    assert isinstance(robot["rotated_at"], str)
    assert stat.S_IMODE(vault.path.stat().st_mode) == 0o640

    emulator.clear_log()
    before = snapshot(vault.path)
    again = rotate(extra_vars=dict(rotate_after="7d"))
    result = again.task("Rotate")
    assert result["statuses"]["not_due"] == ["robot"] and result["changed"] is False and again.changed == 0
    assert (result["connections_changed"], result["connections_skipped"]) == ({}, [])
    assert emulator.log()["counts"] == {}
    assert snapshot(vault.path) == before


def test_check_mode_with_diff_redeems_and_writes_nothing(emulator, vault, rotate):
    vault.write({"robot": connection(emulator, "adele@contoso.onmicrosoft.com")})
    emulator.clear_log()
    before = snapshot(vault.path)

    run = rotate(check=True, diff=True)

    result = run.task("Rotate")
    assert result["statuses"]["skipped"] == ["robot"] and result["changed"] is True
    assert (result["connections_changed"], result["connections_skipped"]) == ({}, [])
    # Unredeemed, the new values are unknown: there is nothing to show, and nothing secret is shown.
    assert not result.get("diff")
    assert emulator.log()["counts"] == {}
    assert snapshot(vault.path) == before


def test_a_token_stored_meanwhile_is_not_overwritten(emulator, vault, rotate, tmp_path):
    vault.write({"robot": connection(emulator, "adele@contoso.onmicrosoft.com")})
    newer = {"robot": connection(emulator, "adele@contoso.onmicrosoft.com", note="stored by another run")}
    # The token answer comes late, so the other run's write lands between this run's read and its store.
    emulator.fault("token", "delay", delay=3)

    def other_run():
        # The fault is used up when the token request arrives, which is after the action read the vault.
        deadline = time.monotonic() + 60
        while emulator.pending_faults() and time.monotonic() < deadline:
            time.sleep(0.02)
        vault.write(newer)

    writer = threading.Thread(target=other_run)
    writer.start()
    try:
        run = rotate()
    finally:
        writer.join()

    result = run.task("Rotate")
    assert result["statuses"]["rotated"] == ["robot"]
    assert (result["connections_changed"], result["connections_skipped"]) == ({}, ["robot"])
    assert vault.read() == newer


def test_refusals_name_the_problem_and_leave_the_files_alone(emulator, vault, rotate, tmp_path):
    vault.write({"fine": connection(emulator, "megan@outlook.com")})
    other_password = tmp_path / "vault" / "other_password.yml"
    other_password.write_bytes(
        VaultLib([("default", VaultSecret(b"not the run's password"))]).encrypt("onedrive_connections: {}\n")
    )
    files = [vault.path, other_password]
    before = [snapshot(path) for path in files]
    emulator.clear_log()
    missing = tmp_path / "vault" / "missing.yml"

    run = rotate(extra_vars=dict(refusals=[
        {"path": str(missing)},
        {"path": str(other_password)},
        {"path": str(vault.path), "names": ["fine", "ghost"]},
        {"path": str(vault.path), "key": "other_key", "names": ["fine"]},
        {"path": str(vault.path), "connections": {}},
        {"key": "other_key", "connections": {}},
    ]))

    items = run.task("Refuse")["results"]
    assert all(item.get("failed") for item in items), items
    messages = [item["msg"] for item in items]
    assert messages[0].startswith(f"{missing} does not exist, so there is nothing to rotate")
    assert messages[1].startswith(f"{other_password} cannot be decrypted with the loaded vault secrets")
    assert messages[2].startswith(f"{vault.path} holds no connection ghost under onedrive_connections (it holds fine)")
    assert messages[3].startswith(f"{vault.path} holds no connection fine under other_key (it holds none)")
    assert messages[4] == "parameters are mutually exclusive: connections|path"
    assert messages[5] == "key only apply with path, the vaulted file to rotate, or store=hashi_vault."
    assert "Traceback" not in run.output
    assert emulator.log()["counts"] == {}
    assert [snapshot(path) for path in files] == before and not missing.exists()


def test_a_number_in_names_finds_the_connection_stored_under_that_name(emulator, vault, rotate):
    vault.write({"2024": connection(emulator, "adele@contoso.onmicrosoft.com")})
    run = rotate(check=True, extra_vars=dict(names=[2024]))
    assert run.task("Rotate")["statuses"]["skipped"] == ["2024"]


def test_what_would_refuse_the_write_refuses_before_any_token_is_redeemed(emulator, vault, rotate, tmp_path):
    vault.write({"robot": connection(emulator, "adele@contoso.onmicrosoft.com")})
    other = tmp_path / "other-password"
    other.write_text("another password\n")
    before = snapshot(vault.path)
    emulator.clear_log()

    run = rotate(rotates=False, vault_ids=[f"default@{vault.password_file}", f"other@{other}"])

    result = run.task("Rotate")
    assert "several vault ids are loaded (default, other)" in result["msg"]
    assert emulator.log()["counts"] == {} and snapshot(vault.path) == before


SEVERAL_HOSTS = """
- name: Add a second host, local as well
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Add it
      ansible.builtin.add_host:
        name: second
        ansible_connection: local
        ansible_python_interpreter: "{{ ansible_python_interpreter }}"

- name: Rotate from both
  hosts: localhost:second
  gather_facts: false
  module_defaults:
    onedrive.connection.rotate_tokens:
      path: "{{ vault_path }}"
      rotate_after: 7d
      login_url: "{{ emulator_url }}"
      graph_url: "{{ emulator_url }}"
      ca_path: "{{ ca_path }}"
  tasks:
    - name: Per host
      onedrive.connection.rotate_tokens:

    - name: Once
      onedrive.connection.rotate_tokens:
      run_once: true
"""


def test_several_hosts_without_run_once_are_warned(emulator, vault, ansible_run):
    vault.write({"robot": connection(emulator, "adele@contoso.onmicrosoft.com", rotated_at="2999-01-01T00:00:00Z")})
    variables = dict(vault_path=str(vault.path), emulator_url=emulator.base_url, ca_path=str(emulator.ca_path))
    run = ansible_run(SEVERAL_HOSTS, extra_vars=variables, vault_password_file=vault.password_file)
    assert run.rc == 0, run.output
    per_host = [entry["result"] for entry in run.tasks if entry["name"] == "Per host"]
    assert len(per_host) == 2 and all("set run_once on this task" in result["warnings"][0] for result in per_host)
    assert all("warnings" not in entry["result"] for entry in run.tasks if entry["name"] == "Once")
