from __future__ import annotations

import multiprocessing
import os
import random
import signal
import stat
import time

import pytest
import yaml

from ansible_collections.onedrive.connection.plugins.plugin_utils import vault_stream, vault_yaml
from ansible_collections.onedrive.connection.plugins.plugin_utils.vault_file import (
    VaultConfigError,
    VaultConfigFile,
    encryption_of,
)

ROBOT = {"client_id": "11111111-2222-3333-4444-555555555555", "tenant": "common", "refresh_token": "rt-one-SECRET"}


def decrypted(path, vault):
    return yaml.safe_load(vault.decrypt(path.read_bytes()))


def snapshot(path):
    info = path.stat()
    return path.read_bytes(), info.st_mtime_ns, stat.S_IMODE(info.st_mode)


def test_creates_an_encrypted_0600_file_with_its_folders(tmp_path, vault):
    path = tmp_path / "new" / "deeper" / "vault.yml"
    outcome = VaultConfigFile(str(path), vault).update({"robot": ROBOT})
    assert outcome.changed
    assert outcome.fields_changed == {"robot": ["client_id", "refresh_token", "tenant"]}
    assert path.read_bytes().startswith(b"$ANSIBLE_VAULT;1.1;AES256\n")
    assert b"SECRET" not in path.read_bytes()
    assert decrypted(path, vault) == {"onedrive_connections": {"robot": ROBOT}}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_unchanged_data_leaves_the_file_untouched(tmp_path, vault):
    path = tmp_path / "vault.yml"
    VaultConfigFile(str(path), vault).update({"robot": ROBOT})
    before = snapshot(path)
    time.sleep(0.01)
    outcome = VaultConfigFile(str(path), vault).update({"robot": {"tenant": "common"}})
    assert (outcome.changed, outcome.fields_changed) == (False, {})
    assert snapshot(path) == before


def test_merge_keeps_other_connections_fields_and_variables(tmp_path, vault):
    path = tmp_path / "vault.yml"
    document = {
        "other_var": {"keep": [1, 2]},
        "onedrive_connections": {"robot": {**ROBOT, "custom": "kept"}, "second": {"client_id": "b"}},
    }
    path.write_bytes(vault.encrypt(yaml.safe_dump(document)))
    outcome = VaultConfigFile(str(path), vault).update({"robot": {"refresh_token": "rt-two", "drive_id": "d1"}})
    assert outcome.fields_changed == {"robot": ["drive_id", "refresh_token"]}
    expected = {**ROBOT, "custom": "kept", "refresh_token": "rt-two", "drive_id": "d1"}
    assert decrypted(path, vault) == {**document, "onedrive_connections": {"robot": expected, "second": {"client_id": "b"}}}


def test_many_connections_are_updated_and_removed_in_one_write(tmp_path, vault, monkeypatch):
    path = tmp_path / "vault.yml"
    VaultConfigFile(str(path), vault).update({f"r{i}": {"n": i} for i in range(5)})
    encryptions = []
    original = vault_stream.encrypt
    monkeypatch.setattr(vault_stream, "encrypt", lambda *a, **k: encryptions.append(1) or original(*a, **k))
    outcome = VaultConfigFile(str(path), vault).update({f"r{i}": {"n": i + 10} for i in range(3)}, ["r4"])
    assert outcome.fields_changed == {"r0": ["n"], "r1": ["n"], "r2": ["n"], "r4": ["n"]}
    assert len(encryptions) == 1
    assert decrypted(path, vault)["onedrive_connections"] == {"r0": {"n": 10}, "r1": {"n": 11}, "r2": {"n": 12}, "r3": {"n": 3}}


def test_removing_what_is_not_there_changes_nothing(tmp_path, vault):
    path = tmp_path / "vault.yml"
    assert not VaultConfigFile(str(path), vault).update({}, ["ghost"]).changed
    assert not path.exists()


def test_updating_and_removing_one_connection_is_refused(tmp_path, vault):
    with pytest.raises(VaultConfigError, match="both updated and removed: robot"):
        VaultConfigFile(str(tmp_path / "v.yml"), vault).update({"robot": {}}, ["robot"])


def test_check_mode_reports_without_creating_anything(tmp_path, vault):
    path = tmp_path / "sub" / "vault.yml"
    outcome = VaultConfigFile(str(path), vault).update({"robot": ROBOT}, check_mode=True, diff=True)
    assert outcome.changed and outcome.fields_changed == {"robot": ["client_id", "refresh_token", "tenant"]}
    assert outcome.diff and not (tmp_path / "sub").exists()


def test_check_mode_on_an_existing_file_changes_nothing(tmp_path, vault):
    path = tmp_path / "vault.yml"
    VaultConfigFile(str(path), vault).update({"robot": ROBOT})
    path.chmod(0o644)
    before = snapshot(path)
    outcome = VaultConfigFile(str(path), vault).update({"robot": {"tenant": "x"}}, check_mode=True)
    assert outcome.fields_changed == {"robot": ["tenant"]}
    assert snapshot(path) == before
    assert sorted(os.listdir(tmp_path)) == [".vault.yml.lock", "vault.yml"]


def test_diff_masks_secrets_and_shows_which_fields_change(tmp_path, vault):
    path = tmp_path / "vault.yml"
    VaultConfigFile(str(path), vault).update({"robot": ROBOT, "other": {"client_id": "o"}})
    outcome = VaultConfigFile(str(path), vault).update(
        {"robot": {"refresh_token": "rt-new-SECRET", "client_secret": "cs-SECRET", "tenant": "consumers"}}, diff=True
    )
    [diff] = outcome.diff
    assert diff["before"] == (
        "onedrive_connections:\n  robot:\n    client_id: 11111111-2222-3333-4444-555555555555\n"
        "    tenant: common\n    refresh_token: '********'\n"
    )
    assert diff["after"] == (
        "onedrive_connections:\n  robot:\n    client_id: 11111111-2222-3333-4444-555555555555\n"
        "    tenant: consumers\n    refresh_token: '******** (changed)'\n    client_secret: '******** (changed)'\n"
    )
    assert diff["before_header"] == diff["after_header"] == str(path)
    assert "SECRET" not in repr(outcome)


def test_diff_of_a_removal(tmp_path, vault):
    path = tmp_path / "vault.yml"
    VaultConfigFile(str(path), vault).update({"robot": ROBOT})
    [diff] = VaultConfigFile(str(path), vault).update({}, ["robot"], diff=True).diff
    assert "refresh_token: '********'" in diff["before"] and diff["after"] == ""


def test_mode_of_an_existing_file_is_corrected_without_rewriting_it(tmp_path, vault):
    path = tmp_path / "vault.yml"
    VaultConfigFile(str(path), vault).update({"robot": ROBOT})
    path.chmod(0o644)
    content, mtime, dummy = snapshot(path)
    outcome = VaultConfigFile(str(path), vault).update({"robot": ROBOT}, diff=True)
    assert outcome.changed and outcome.fields_changed == {}
    assert outcome.diff[-1]["before"] == {"mode": "0644"} and outcome.diff[-1]["after"] == {"mode": "0600"}
    assert snapshot(path) == (content, mtime, 0o600)


def test_backup_keeps_the_old_file(tmp_path, vault):
    path = tmp_path / "vault.yml"
    VaultConfigFile(str(path), vault).update({"robot": ROBOT})
    old = path.read_bytes()
    assert VaultConfigFile(str(path), vault).update({"robot": ROBOT}, backup=True).backup_file is None
    backup_file = VaultConfigFile(str(path), vault).update({"robot": {"tenant": "x"}}, backup=True).backup_file
    assert backup_file.startswith(f"{path}.{os.getpid()}.") and backup_file.endswith("~")
    assert open(backup_file, "rb").read() == old
    assert stat.S_IMODE(os.stat(backup_file).st_mode) == 0o600


def test_a_symlinked_file_is_updated_through_the_link(tmp_path, vault):
    real = tmp_path / "real" / "vault.yml"
    real.parent.mkdir()
    VaultConfigFile(str(real), vault).update({"robot": ROBOT})
    link = tmp_path / "link.yml"
    link.symlink_to(real)
    VaultConfigFile(str(link), vault).update({"robot": {"tenant": "x"}})
    assert link.is_symlink()
    assert decrypted(real, vault)["onedrive_connections"]["robot"]["tenant"] == "x"


def test_a_plain_file_is_refused_in_file_mode_and_left_as_it_is(tmp_path, vault):
    path = tmp_path / "vault.yml"
    path.write_text("onedrive_connections:\n  robot: {client_id: a}\nother: 1\n")
    before = path.read_bytes()
    with pytest.raises(VaultConfigError, match="is not an ansible-vault file .*`ansible-vault encrypt"):
        VaultConfigFile(str(path), vault).update({"robot": {"client_id": "b"}})
    assert path.read_bytes() == before


@pytest.mark.parametrize("content", ["", "\n  \n"])
def test_an_empty_file_becomes_a_vault(tmp_path, vault, content):
    path = tmp_path / "vault.yml"
    path.write_text(content)
    VaultConfigFile(str(path), vault).update({"robot": {"client_id": "a"}})
    assert decrypted(path, vault) == {"onedrive_connections": {"robot": {"client_id": "a"}}}


# --- vault identities ---

def test_no_loaded_secret_is_a_clear_error(tmp_path, make_vault):
    path = tmp_path / "vault.yml"
    with pytest.raises(VaultConfigError, match="--ask-vault-pass, --vault-password-file or --vault-id"):
        VaultConfigFile(str(path), make_vault()).update({"robot": ROBOT})
    assert not path.exists()


def test_the_chosen_vault_id_encrypts(tmp_path, make_vault):
    vault = make_vault(("dev", "pw-dev"), ("prod", "pw-prod"))
    path = tmp_path / "vault.yml"
    with pytest.raises(VaultConfigError, match=r"several vault ids are loaded \(dev, prod\)"):
        VaultConfigFile(str(path), vault).update({"robot": ROBOT})
    VaultConfigFile(str(path), vault, vault_id="prod").update({"robot": ROBOT})
    assert path.read_bytes().startswith(b"$ANSIBLE_VAULT;1.2;AES256;prod\n")
    assert decrypted(path, make_vault(("prod", "pw-prod"))) == {"onedrive_connections": {"robot": ROBOT}}
    with pytest.raises(VaultConfigError, match=r"vault id 'test' is not loaded \(loaded: dev, prod\)"):
        VaultConfigFile(str(path), vault, vault_id="test").update({"robot": ROBOT})


def test_the_only_loaded_id_is_the_default(tmp_path, make_vault):
    path = tmp_path / "vault.yml"
    VaultConfigFile(str(path), make_vault(("ops", "pw"))).update({"robot": ROBOT})
    assert path.read_bytes().startswith(b"$ANSIBLE_VAULT;1.2;AES256;ops\n")


# --- files left untouched ---

def _refused(path, vault, match, **options):
    before = snapshot(path)
    with pytest.raises(VaultConfigError, match=match) as caught:
        VaultConfigFile(str(path), vault, **options).update({"robot": {"refresh_token": "rt-new-SECRET"}})
    assert "SECRET" not in str(caught.value)
    assert snapshot(path) == before
    assert [name for name in os.listdir(path.parent) if name.endswith(".partial")] == []


def test_wrong_password_is_refused_and_the_file_kept(tmp_path, vault, make_vault):
    path = tmp_path / "vault.yml"
    VaultConfigFile(str(path), vault).update({"robot": ROBOT})
    _refused(path, make_vault(("default", "wrong")), r"cannot be decrypted with the loaded vault secrets.*names vault id 'default'")


def test_file_of_another_vault_id_is_refused(tmp_path, make_vault):
    path = tmp_path / "vault.yml"
    VaultConfigFile(str(path), make_vault(("prod", "pw-prod"))).update({"robot": ROBOT})
    _refused(path, make_vault(("dev", "pw-dev")), r"names vault id 'prod'; loaded: dev")


@pytest.mark.parametrize(
    "content, match",
    [
        (b"$ANSIBLE_VAULT;1.1;AES256\nnot-hex-at-all\n", "is damaged"),
        (b"onedrive_connections: [unclosed\n", r"is not valid YAML \(problem at line 2"),
        (b"\xff\xfe binary", "is not UTF-8 text"),
        (b"- a list\n", "does not hold a mapping of variables at the top level"),
        (b"onedrive_connections: [a, b]\n", "onedrive_connections is not a mapping of connections"),
        (b"onedrive_connections:\n  robot: just-a-string\n", "connection 'robot' under onedrive_connections is not a mapping"),
    ],
)
def test_unusable_content_is_refused_and_kept(tmp_path, vault, content, match):
    path = tmp_path / "vault.yml"
    path.write_bytes(content)
    # A plain file is checked inline, where plain content is fine: in file mode it is refused as not a vault.
    _refused(path, vault, match, encryption="file" if content.startswith(b"$ANSIBLE_VAULT") else "inline")


def test_unusable_content_inside_the_vault_is_refused_and_kept(tmp_path, vault):
    path = tmp_path / "vault.yml"
    path.write_bytes(vault.encrypt("onedrive_connections: {robot: [SECRET-in-file\n"))
    _refused(path, vault, "is not valid YAML")


def test_truncated_vault_is_refused_and_kept(tmp_path, vault):
    path = tmp_path / "vault.yml"
    VaultConfigFile(str(path), vault).update({"robot": ROBOT})
    path.write_bytes(path.read_bytes()[:-40])
    _refused(path, vault, "cannot be decrypted|is damaged")


# --- inline encryption ---

def test_inline_encrypts_secret_fields_only_and_loads_as_ansible_vars(tmp_path, vault):
    path = tmp_path / "vault.yml"
    VaultConfigFile(str(path), vault, encryption="inline").update({"robot": ROBOT, "other": {**ROBOT, "refresh_token": "rt-2"}})
    text = path.read_text()
    assert "SECRET" not in text and "client_id: 11111111-2222-3333-4444-555555555555" in text
    assert text.count("refresh_token: !vault |") == 2
    loaded = vault_yaml.load(text, vault)["onedrive_connections"]
    assert loaded["robot"]["refresh_token"].plaintext() == "rt-one-SECRET"


def test_inline_change_to_one_connection_keeps_the_ciphertext_of_the_others(tmp_path, vault):
    path = tmp_path / "vault.yml"
    VaultConfigFile(str(path), vault, encryption="inline").update({"a": ROBOT, "b": ROBOT})
    before = path.read_text()
    outcome = VaultConfigFile(str(path), vault, encryption="inline").update({"a": {"refresh_token": "rt-rotated"}, "b": ROBOT})
    assert outcome.fields_changed == {"a": ["refresh_token"]}
    after = path.read_text()
    before_b, after_b = before.split("\n  b:\n")[1], after.split("\n  b:\n")[1]
    assert before_b == after_b
    assert before.split("\n  b:\n")[0] != after.split("\n  b:\n")[0]


def test_inline_encrypts_plain_secrets_and_keeps_vaulted_fields_vaulted(tmp_path, vault):
    path = tmp_path / "vault.yml"
    vaulted = vault_yaml.VaultValue.encrypt("p1", vault, vault.secrets[0][1], "default")
    path.write_text(vault_yaml.dump({"onedrive_connections": {"a": {"refresh_token": "plain", "password": vaulted}}}))
    outcome = VaultConfigFile(str(path), vault, encryption="inline").update({"a": {"password": "p2"}}, diff=True)
    assert outcome.fields_changed == {"a": ["password", "refresh_token"]}
    assert "plain" not in outcome.diff[0]["after"] and "p2" not in outcome.diff[0]["after"]
    loaded = vault_yaml.load(path.read_text(), vault)["onedrive_connections"]["a"]
    assert (loaded["refresh_token"].plaintext(), loaded["password"].plaintext()) == ("plain", "p2")


def test_inline_refuses_a_whole_file_vault_and_non_text_secrets(tmp_path, vault):
    path = tmp_path / "vault.yml"
    VaultConfigFile(str(path), vault).update({"robot": ROBOT})
    _refused(path, vault, "is encrypted as a whole", encryption="inline")
    with pytest.raises(VaultConfigError, match="field 'refresh_token' of connection 'x' must be a string"):
        VaultConfigFile(str(tmp_path / "i.yml"), vault, encryption="inline").update({"x": {"refresh_token": 42}})


def test_inline_value_that_cannot_be_decrypted_is_refused(tmp_path, vault, make_vault):
    path = tmp_path / "vault.yml"
    VaultConfigFile(str(path), vault, encryption="inline").update({"robot": ROBOT})
    _refused(path, make_vault(("default", "wrong")), "field 'refresh_token' of connection 'robot' cannot be decrypted",
             encryption="inline")


# --- concurrency and crashes ---

def _write_one(path, vault, name):
    VaultConfigFile(path, vault).update({name: {"refresh_token": f"token-{name}"}})


def test_concurrent_writers_of_different_connections_all_land(tmp_path, vault):
    path = str(tmp_path / "vault.yml")
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_write_one, args=(path, vault, f"c{i}")) for i in range(16)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(30)
        assert writer.exitcode == 0
    connections = decrypted(tmp_path / "vault.yml", vault)["onedrive_connections"]
    assert connections == {f"c{i}": {"refresh_token": f"token-c{i}"} for i in range(16)}


def _version(serial):
    return {"robot": {"serial": serial, "refresh_token": f"token-{serial}", "padding": "x" * (serial % 7) * 300}}


def test_a_writer_killed_at_random_moments_always_leaves_a_whole_file(tmp_path, vault):
    """Kill a looping writer 100 times at random instants: the file is always one complete version."""
    path = tmp_path / "vault.yml"
    VaultConfigFile(str(path), vault).update(_version(-1))
    started = time.perf_counter()
    VaultConfigFile(str(path), vault).update(_version(0))
    # Kill within a few write cycles of this machine (a cycle as the writer's: read, decrypt, encrypt, replace),
    # so that kills land in every phase of a write.
    cycle = time.perf_counter() - started
    rng = random.Random(5)
    serial = mid_write = 0
    for dummy in range(100):
        started_reading, started_writing = os.pipe()
        child = os.fork()
        if child == 0:
            try:
                os.write(started_writing, b"!")
                for next_serial in range(serial + 1, serial + 10_000):
                    VaultConfigFile(str(path), vault).update(_version(next_serial))
            finally:
                os._exit(0)
        # The clock starts when the child runs, not when fork returns: on a loaded machine the child may start late.
        os.read(started_reading, 1)
        os.close(started_reading)
        os.close(started_writing)
        time.sleep(rng.uniform(0, 3 * cycle))
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        connections = decrypted(path, vault)["onedrive_connections"]
        if connections["robot"]["serial"] == serial:
            # A write cycle slower than the one measured (other tests share the cores): widen the window.
            cycle *= 1.1
        serial = connections["robot"]["serial"]
        assert connections == _version(serial)
        abandoned = [name for name in os.listdir(tmp_path) if name.endswith(".partial")]
        assert len(abandoned) <= 1
        mid_write += bool(abandoned)
    assert serial >= 10, "the writer made progress between kills"
    assert mid_write, "some kills landed while a new version was being written"
    VaultConfigFile(str(path), vault).update(_version(serial + 1))
    assert sorted(os.listdir(tmp_path)) == [".vault.yml.lock", "vault.yml"]


def test_read_gives_plain_connections_with_inline_values_decrypted(tmp_path, vault):
    path = tmp_path / "vault.yml"
    VaultConfigFile(str(path), vault, encryption="inline").update({"robot": {**ROBOT, "scopes": ["User.Read"]}})
    assert b"rt-one-SECRET" not in path.read_bytes()
    assert VaultConfigFile(str(path), vault, encryption="inline").read() == {"robot": {**ROBOT, "scopes": ["User.Read"]}}
    assert VaultConfigFile(str(tmp_path / "absent.yml"), vault).read() == {}


def test_read_refuses_tokens_kept_in_plain_text(tmp_path, vault):
    path = tmp_path / "vault.yml"
    path.write_text(yaml.safe_dump({"onedrive_connections": {"robot": ROBOT}}))
    with pytest.raises(VaultConfigError, match="'robot' holds refresh_token in plain text.*ansible-vault encrypt"):
        VaultConfigFile(str(path), vault, encryption="inline").read()


def test_read_refuses_a_connection_name_that_is_not_text(tmp_path, vault):
    path = tmp_path / "vault.yml"
    path.write_bytes(vault.encrypt(yaml.safe_dump({"onedrive_connections": {2024: ROBOT}})))
    with pytest.raises(VaultConfigError, match="connection name 2024 .* is not text; quote it"):
        VaultConfigFile(str(path), vault).read()


@pytest.mark.parametrize("encryption", ["file", "inline"])
def test_no_mode_keeps_the_files_permissions_and_encryption_of_tells_the_style(tmp_path, vault, encryption):
    path = tmp_path / "vault.yml"
    VaultConfigFile(str(path), vault, encryption=encryption).update({"robot": ROBOT})
    assert encryption_of(str(path)) == (encryption, None)
    path.chmod(0o640)
    outcome = VaultConfigFile(str(path), vault, encryption=encryption, mode=None).update({"robot": {"tenant": "x"}})
    assert outcome.changed and stat.S_IMODE(path.stat().st_mode) == 0o640
    assert encryption_of(str(path)) == (encryption, None)
    fresh = tmp_path / "fresh.yml"
    VaultConfigFile(str(fresh), vault, mode=None).update({"robot": ROBOT})
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600


def test_no_secret_loaded_is_said_before_reading_an_encrypted_file(tmp_path, vault, make_vault):
    path = tmp_path / "vault.yml"
    VaultConfigFile(str(path), vault).update({"robot": ROBOT})
    with pytest.raises(VaultConfigError, match="is encrypted and no vault secret is loaded"):
        VaultConfigFile(str(path), make_vault()).read()


def test_encryption_of_names_the_vault_id_of_a_whole_file(tmp_path, make_vault):
    path = tmp_path / "vault.yml"
    VaultConfigFile(str(path), make_vault(("prod", "pw")), vault_id="prod").update({"robot": ROBOT})
    assert encryption_of(str(path)) == ("file", "prod")


def test_check_writable_refuses_before_any_change_what_a_write_would(tmp_path, vault, make_vault):
    path = tmp_path / "vault.yml"
    VaultConfigFile(str(path), vault).update({"robot": ROBOT})
    VaultConfigFile(str(path), vault).check_writable()
    with pytest.raises(VaultConfigError, match=r"several vault ids are loaded \(default, other\)"):
        VaultConfigFile(str(path), make_vault(("default", "correct horse"), ("other", "x"))).check_writable()
    with pytest.raises(VaultConfigError, match="lock_timeout must be a number of seconds"):
        VaultConfigFile(str(path), vault, lock_timeout=float("nan"))


def test_a_file_is_parsed_again_only_when_its_bytes_changed(tmp_path, vault, monkeypatch):
    path = tmp_path / "vault.yml"
    VaultConfigFile(str(path), vault).update({"robot": ROBOT})
    config = VaultConfigFile(str(path), vault)
    parses = []
    original = config._parse
    monkeypatch.setattr(config, "_parse", lambda content: parses.append(1) or original(content))
    assert config.read() == config.read() == {"robot": ROBOT}
    assert len(parses) == 1
    # Another writer's content, with the same size, times and inode: the bytes tell.
    info = path.stat()
    other = VaultConfigFile(str(tmp_path / "other.yml"), vault)
    other.update({"robot": {**ROBOT, "refresh_token": "rt-two-SECRET"}})
    content = (tmp_path / "other.yml").read_bytes()
    assert len(content) == info.st_size
    with open(path, "r+b") as handle:
        handle.write(content)
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert config.read()["robot"]["refresh_token"] == "rt-two-SECRET"
    assert len(parses) == 2
