"""onedrive.connection.vault_config through real ansible-playbook runs, with real vault passwords."""

from __future__ import annotations

import json
import os
import pathlib
import random
import signal
import stat
import subprocess
import sys
import threading
import time

import pytest
import yaml

from ansible.parsing.vault import VaultLib, VaultSecret

from runner import COLLECTIONS_PATH, Runner

PLAYBOOKS = pathlib.Path(__file__).resolve().parent / "playbooks" / "vault_config"
BIN = pathlib.Path(sys.executable).parent
ROBOT = {
    "client_id": "11111111-2222-3333-4444-555555555555",
    "tenant": "common",
    "scopes": ["Files.ReadWrite", "offline_access"],
    "refresh_token": "M.C5_BAY.0.U.-refresh-SECRET-1",
}


@pytest.fixture
def secrets(tmp_path):
    """Password files for three vault identities, and a VaultLib holding them for direct checks."""
    folder = tmp_path / "secrets"
    folder.mkdir()
    passwords = {"default": "main password", "dev": "dev password", "prod": "prod password", "wrong": "not it"}
    files = {}
    for name, password in passwords.items():
        files[name] = folder / name
        files[name].write_text(password + "\n")
    files["vault"] = VaultLib([(name, VaultSecret(password.encode())) for name, password in passwords.items()])
    return files


def vault_view(path, *secret_args):
    """The data `ansible-vault view` shows for path."""
    proc = subprocess.run(
        [str(BIN / "ansible-vault"), "view", *secret_args, str(path)],
        capture_output=True, text=True, check=True, env={**os.environ, "PAGER": "cat"},
    )
    return yaml.safe_load(proc.stdout)


def snapshot(path):
    info = path.stat()
    return path.read_bytes(), info.st_mtime_ns, stat.S_IMODE(info.st_mode)


def write(ansible_run, vault_path, password_file=None, **options):
    extra = {"vault_path": str(vault_path), **{f"vc_{name}": value for name, value in options.items()}}
    return ansible_run(PLAYBOOKS / "write.yml", extra_vars=extra, vault_password_file=password_file)


def assert_loads(ansible_run, vault_path, expected, **run_options):
    run = ansible_run(PLAYBOOKS / "load.yml", extra_vars={"vault_path": str(vault_path), "expected": expected}, **run_options)
    assert run.rc == 0, run.output


def test_create_then_an_identical_run_changes_nothing(ansible_run, tmp_path, secrets):
    vault_path = tmp_path / "vault" / "onedrive.yml"
    first = write(ansible_run, vault_path, secrets["default"], connection="robot", values=ROBOT)
    assert (first.rc, first.changed) == (0, 1), first.output
    result = first.task("Write")
    assert result["fields_changed"] == ["client_id", "refresh_token", "scopes", "tenant"]
    assert (result["path"], result["connection"]) == (str(vault_path), "robot")
    assert stat.S_IMODE(vault_path.stat().st_mode) == 0o600
    assert vault_view(vault_path, "--vault-password-file", str(secrets["default"])) == {"onedrive_connections": {"robot": ROBOT}}

    before = snapshot(vault_path)
    second = write(ansible_run, vault_path, secrets["default"], connection="robot", values=ROBOT)
    assert (second.rc, second.changed) == (0, 0), second.output
    assert second.task("Write")["fields_changed"] == []
    assert snapshot(vault_path) == before
    assert_loads(ansible_run, vault_path, {"robot": ROBOT}, vault_password_file=secrets["default"])


def test_merge_keeps_other_connections_and_variables_and_absent_removes(ansible_run, tmp_path, secrets):
    vault_path = tmp_path / "onedrive.yml"
    existing = {"db_password": "keep-me", "onedrive_connections": {"robot": {**ROBOT, "note": "custom"}, "other": {"client_id": "o"}}}
    vault_path.write_bytes(secrets["vault"].encrypt(yaml.safe_dump(existing), secrets["vault"].secrets[0][1]))

    run = write(ansible_run, vault_path, secrets["default"], connection="robot",
                values={"refresh_token": "M.C5_BAY.0.U.-refresh-SECRET-2", "drive_id": "b!drive"})
    assert run.rc == 0 and run.task("Write")["fields_changed"] == ["drive_id", "refresh_token"], run.output
    robot = {**ROBOT, "note": "custom", "refresh_token": "M.C5_BAY.0.U.-refresh-SECRET-2", "drive_id": "b!drive"}
    view = vault_view(vault_path, "--vault-password-file", str(secrets["default"]))
    assert view == {"db_password": "keep-me", "onedrive_connections": {"robot": robot, "other": {"client_id": "o"}}}

    run = write(ansible_run, vault_path, secrets["default"], connection="other", state="absent")
    assert run.rc == 0 and run.changed == 1 and run.task("Write")["fields_changed"] == ["client_id"], run.output
    view = vault_view(vault_path, "--vault-password-file", str(secrets["default"]))
    assert view == {"db_password": "keep-me", "onedrive_connections": {"robot": robot}}


def test_inline_mode_loads_and_keeps_unchanged_ciphertext(ansible_run, tmp_path, secrets):
    vault_path = tmp_path / "group_vars" / "onedrive.yml"
    connections = {"robot": ROBOT, "mailbox": {**ROBOT, "refresh_token": "M.C5_BAY.0.U.-mailbox-SECRET", "client_secret": "cs~SECRET"}}
    run = write(ansible_run, vault_path, secrets["default"], encryption="inline", connections=connections)
    assert run.rc == 0, run.output
    assert run.task("Write")["connections_changed"] == {
        "robot": ["client_id", "refresh_token", "scopes", "tenant"],
        "mailbox": ["client_id", "client_secret", "refresh_token", "scopes", "tenant"],
    }
    text = vault_path.read_text()
    assert "SECRET" not in text and text.count(": !vault |") == 3 and "tenant: common" in text
    assert_loads(ansible_run, vault_path, connections, vault_password_file=secrets["default"])

    rotated = {**ROBOT, "refresh_token": "M.C5_BAY.0.U.-refresh-SECRET-rotated"}
    run = write(ansible_run, vault_path, secrets["default"], encryption="inline", connections={"robot": rotated})
    assert run.rc == 0 and run.task("Write")["connections_changed"] == {"robot": ["refresh_token"]}, run.output
    mailbox_block = text[text.index("  mailbox:"):text.index("  robot:")]
    assert mailbox_block in vault_path.read_text(), "the untouched connection keeps its !vault blocks byte for byte"
    assert_loads(ansible_run, vault_path, {**connections, "robot": rotated}, vault_password_file=secrets["default"])


def test_two_vault_ids(ansible_run, tmp_path, secrets):
    vault_path = tmp_path / "onedrive.yml"
    identities = [f"dev@{secrets['dev']}", f"prod@{secrets['prod']}"]
    extra = {"vault_path": str(vault_path), "vc_connection": "robot", "vc_values": ROBOT}

    ambiguous = ansible_run(PLAYBOOKS / "write.yml", extra_vars=extra, vault_ids=identities)
    assert ambiguous.rc != 0 and "several vault ids are loaded (dev, prod)" in ambiguous.output
    assert not vault_path.exists()

    chosen = ansible_run(PLAYBOOKS / "write.yml", extra_vars={**extra, "vc_vault_id": "prod"}, vault_ids=identities)
    assert chosen.rc == 0, chosen.output
    assert vault_path.read_bytes().startswith(b"$ANSIBLE_VAULT;1.2;AES256;prod\n")
    assert vault_view(vault_path, "--vault-id", f"prod@{secrets['prod']}") == {"onedrive_connections": {"robot": ROBOT}}
    assert_loads(ansible_run, vault_path, {"robot": ROBOT}, vault_ids=identities)

    configured = ansible_run(PLAYBOOKS / "write.yml", extra_vars={**extra, "vc_values": {"tenant": "organizations"}},
                             vault_ids=identities, env={"ANSIBLE_VAULT_ENCRYPT_IDENTITY": "prod"})
    assert configured.rc == 0 and configured.changed == 1, configured.output
    assert vault_path.read_bytes().startswith(b"$ANSIBLE_VAULT;1.2;AES256;prod\n")


def test_no_vault_secret_loaded_is_a_clear_error(ansible_run, tmp_path):
    vault_path = tmp_path / "onedrive.yml"
    run = write(ansible_run, vault_path, connection="robot", values=ROBOT)
    assert run.rc != 0
    assert "no vault secret is loaded: run ansible-playbook with --ask-vault-pass, --vault-password-file or --vault-id" in run.output
    assert "Traceback" not in run.output
    assert not vault_path.exists()


def test_wrong_password_corrupt_and_unusable_files_are_left_untouched(ansible_run, tmp_path, secrets):
    vault = secrets["vault"]
    files = {
        "wrong_password": vault.encrypt(yaml.safe_dump({"onedrive_connections": {"robot": ROBOT}}), vault.secrets[3][1]),
        "corrupt": b"$ANSIBLE_VAULT;1.1;AES256\n3636zz-not-hex\n",
        "truncated": vault.encrypt(yaml.safe_dump({"onedrive_connections": {"robot": ROBOT}}), vault.secrets[0][1])[:-30],
        "not_yaml": vault.encrypt("onedrive_connections: {robot: [\n", vault.secrets[0][1]),
        "not_mapping": vault.encrypt("onedrive_connections: [robot]\n", vault.secrets[0][1]),
    }
    paths = []
    for name, content in files.items():
        paths.append(tmp_path / f"{name}.yml")
        paths[-1].write_bytes(content)
    before = [snapshot(path) for path in paths]

    run = ansible_run(PLAYBOOKS / "refusals.yml", vault_password_file=secrets["default"],
                      extra_vars={"refused_paths": [str(path) for path in paths], "new_token": "M.C5_BAY.0.U.-new-SECRET"})
    assert run.rc == 0, run.output
    messages = [item["msg"] for item in run.task("Write")["results"]]
    assert all(item.get("failed") for item in run.task("Write")["results"])
    assert "wrong_password.yml cannot be decrypted with the loaded vault secrets" in messages[0]
    assert "corrupt.yml is damaged" in messages[1]
    assert "truncated.yml cannot be decrypted" in messages[2] or "truncated.yml is damaged" in messages[2]
    assert "not_yaml.yml is not valid YAML (problem at line 2, column 1)" in messages[3]
    assert "not_mapping.yml: onedrive_connections is not a mapping of connections" in messages[4]
    assert [snapshot(path) for path in paths] == before
    assert "SECRET" not in run.output and "Traceback" not in run.output


def test_check_mode_reports_without_writing(ansible_run, tmp_path, secrets):
    vault_path = tmp_path / "onedrive.yml"
    run = ansible_run(PLAYBOOKS / "write.yml", check=True, vault_password_file=secrets["default"],
                      extra_vars={"vault_path": str(vault_path), "vc_connection": "robot", "vc_values": ROBOT})
    assert run.rc == 0 and run.changed == 1, run.output
    assert not vault_path.exists()

    write(ansible_run, vault_path, secrets["default"], connection="robot", values=ROBOT)
    before = snapshot(vault_path)
    run = ansible_run(PLAYBOOKS / "write.yml", check=True, vault_password_file=secrets["default"],
                      extra_vars={"vault_path": str(vault_path), "vc_connection": "robot", "vc_values": {"tenant": "consumers"}})
    assert run.rc == 0 and run.changed == 1 and run.task("Write")["fields_changed"] == ["tenant"], run.output
    assert snapshot(vault_path) == before


def test_relative_path_is_relative_to_the_playbook(ansible_run, tmp_path, secrets):
    playbook = (PLAYBOOKS / "write.yml").read_text().replace('"{{ vault_path }}"', "vault/onedrive.yml")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run = ansible_run(playbook, cwd=elsewhere, vault_password_file=secrets["default"],
                      extra_vars={"vc_connection": "robot", "vc_values": ROBOT})
    assert run.rc == 0, run.output
    playbook_folder = run.tmp_dir.parent
    assert run.task("Write")["path"] == str(playbook_folder / "vault" / "onedrive.yml")
    assert (playbook_folder / "vault" / "onedrive.yml").is_file()
    assert not (elsewhere / "vault").exists()


def test_secrets_stay_out_of_vvvv_output_and_the_diff_is_masked(ansible_run, tmp_path, secrets):
    """No no_log anywhere: the secrets come from a vaulted vars file and from extra vars, at -vvvv with --diff."""
    issued, client_secret = "M.C5_BAY.0.U.-issued-SECRET-abc", "cs~given-SECRET-xyz"
    vault_path = tmp_path / "onedrive.yml"
    write(ansible_run, vault_path, secrets["default"], connection="robot", values={**ROBOT, "client_secret": "cs~old-SECRET"})
    token_file = tmp_path / "issued.yml"
    token_file.write_text(
        "issued_refresh_token: !vault |\n"
        + "".join(f"  {line}\n" for line in secrets["vault"].encrypt(issued, secrets["vault"].secrets[0][1]).decode().splitlines())
    )

    run = ansible_run(PLAYBOOKS / "store_issued_token.yml", verbosity=4, diff=True, vault_password_file=secrets["default"],
                      extra_vars={"vault_path": str(vault_path), "token_file": str(token_file), "given_client_secret": client_secret})
    assert run.rc == 0 and run.changed == 1, run.output
    assert run.task("Write")["fields_changed"] == ["client_secret", "refresh_token"]
    diff_lines = set(run.output.splitlines())
    for field in ("refresh_token", "client_secret"):
        assert {f"-    {field}: '********'", f"+    {field}: '******** (changed)'"} <= diff_lines
    assert f"+++ after: {vault_path}" in diff_lines
    for secret in (issued, client_secret, ROBOT["refresh_token"], "cs~old-SECRET"):
        assert secret not in run.output
        for leftover in run.tmp_dir.rglob("*"):
            assert not leftover.is_file() or secret.encode() not in leftover.read_bytes()
    assert vault_view(vault_path, "--vault-password-file", str(secrets["default"]))["onedrive_connections"]["robot"] == {
        **ROBOT, "refresh_token": issued, "client_secret": client_secret,
    }


def test_ten_parallel_playbooks_all_land(tmp_path, secrets):
    vault_path = tmp_path / "onedrive.yml"
    runs = {}

    def run(index):
        runner = Runner(tmp_path / f"parallel{index}")
        values = {"client_id": f"client-{index}", "refresh_token": f"token-{index}"}
        runs[index] = runner(PLAYBOOKS / "write.yml", vault_password_file=secrets["default"],
                             extra_vars={"vault_path": str(vault_path), "vc_connection": f"robot{index}", "vc_values": values})

    threads = [threading.Thread(target=run, args=(index,)) for index in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(result.rc == 0 for result in runs.values()), [result.output for result in runs.values() if result.rc]
    connections = vault_view(vault_path, "--vault-password-file", str(secrets["default"]))["onedrive_connections"]
    assert connections == {f"robot{i}": {"client_id": f"client-{i}", "refresh_token": f"token-{i}"} for i in range(10)}


def _written(path):
    return path.stat().st_mtime_ns if path.exists() else None


def _kill_workers_of(home):
    """Kills the workers that left the killed run's session (they call setsid): else they wait on it forever."""
    marker = f"ANSIBLE_HOME={home}".encode()
    for entry in pathlib.Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "environ").read_bytes().split(b"\0"):
                os.kill(int(entry.name), signal.SIGKILL)
        except OSError:  # gone meanwhile, or not ours to read
            pass


def test_playbooks_killed_at_random_moments_leave_a_whole_file(tmp_path, secrets):
    vault_path = tmp_path / "onedrive.yml"
    vault = secrets["vault"]
    rng = random.Random(11)
    serial, written = 0, None
    for attempt in range(4):
        home = tmp_path / f"killed{attempt}"
        home.mkdir()
        env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": COLLECTIONS_PATH, "ANSIBLE_HOME": str(home),
               "ANSIBLE_LOCAL_TEMP": str(home / "tmp"), "ANSIBLE_NOCOLOR": "1"}
        command = [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(PLAYBOOKS / "rewrite_loop.yml"),
                   "--vault-password-file", str(secrets["default"]),
                   "-e", json.dumps({"vault_path": str(vault_path), "first_serial": serial + 1})]
        # A session of its own, so the kill reaches the run's process group. Ansible's workers call setsid, so the
        # worker of the current task may finish its write; test_nothing_lost.py kills whole trees mid-write.
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 30
        while _written(vault_path) == written and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0, 0.5))
        assert proc.poll() is None, "the playbook was still writing when killed"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        _kill_workers_of(home)
        written = _written(vault_path)
        robot = yaml.safe_load(vault.decrypt(vault_path.read_bytes()))["onedrive_connections"]["robot"]
        assert robot == {"serial": robot["serial"], "refresh_token": f"token-{robot['serial']}"}
        assert robot["serial"] > serial, "the killed playbook had written at least once"
        serial = robot["serial"]


def test_another_top_level_key_sits_beside_the_connections(ansible_run, tmp_path, secrets):
    vault_path = tmp_path / "onedrive.yml"
    assert write(ansible_run, vault_path, secrets["default"], connection="robot", values=ROBOT).rc == 0
    pending = {"state": "abc", "code_verifier": "verifier-SECRET"}
    run = write(ansible_run, vault_path, secrets["default"], key="onedrive_pending", connection="robot", values=pending)
    assert (run.rc, run.changed) == (0, 1), run.output
    assert vault_view(vault_path, "--vault-password-file", str(secrets["default"])) == {
        "onedrive_connections": {"robot": ROBOT},
        "onedrive_pending": {"robot": pending},
    }
