"""The vaulted file on the controller against what another user may plant beside it (issue 20, items 7 to 10),
through real ansible-playbook runs of onedrive.connection.vault_config and onedrive.connection.rotate_tokens.

The tests run as root, which can give a planted link or lock to another user (nobody) as that user would
have planted it, and can own a vault as nobody:nogroup.
"""

from __future__ import annotations

import fcntl
import json
import os
import pathlib
import stat
import textwrap
import threading
import time

import pytest
import yaml
from ansible.parsing.vault import VaultLib, VaultSecret

PLAYBOOKS = pathlib.Path(__file__).resolve().parent / "playbooks"
WRITE = PLAYBOOKS / "vault_config" / "write.yml"
ROTATE = PLAYBOOKS / "rotate_tokens" / "rotate_vault.yml"
PUBLIC_APP = "3fa3ec6b-0d9b-4d0b-9a4e-5d6c0f2b7a11"
SCOPES = ["offline_access", "User.Read", "Files.Read"]
PASSWORD = "file safety password"
LIB = VaultLib([("default", VaultSecret(PASSWORD.encode()))])
NOBODY = NOGROUP = 65534
ROBOT = {"client_id": "11111111-2222-3333-4444-555555555555", "refresh_token": "M.C5_BAY.0.U.-stored-SECRET"}

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user takes root")

# A controller user without the right to give a file away, as ansible-playbook's Python sees it: changing a
# file's owner is refused, changing its group (to one of the user's own) is not.
NO_CHOWN = textwrap.dedent("""
    import os

    _fchown = os.fchown


    def fchown(descriptor, uid, gid):
        if uid != -1:
            raise PermissionError(1, "Operation not permitted")
        _fchown(descriptor, uid, gid)


    os.fchown = fchown
""")


def snapshot(path):
    info = path.stat()
    return path.read_bytes(), info.st_mtime_ns, stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid


def plant_link(link, target, uid=NOBODY):
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(target, link)
    os.lchown(link, uid, uid)


def plant_lock(lock, uid=NOBODY):
    if os.path.lexists(lock):
        os.unlink(lock)
    lock.write_bytes(b"")
    os.chown(lock, uid, uid)


def assert_no_secret(run, *secrets):
    shown = run.output + json.dumps(run.tasks)
    assert "Traceback" not in shown
    assert not [secret for secret in secrets if secret in shown], "a secret is in the output"


@pytest.fixture
def vault(tmp_path):
    """The vaulted file (encrypted as a whole) in a folder of its own, and the password file the runs use."""
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n")
    path = tmp_path / "vault" / "v.yml"
    path.parent.mkdir()

    class Vault:
        lock = path.parent / ".v.yml.lock"

        def write(self, connections):
            path.write_bytes(LIB.encrypt(yaml.safe_dump({"onedrive_connections": connections}, sort_keys=False)))

        def read(self, where=path):
            return yaml.safe_load(LIB.decrypt(where.read_bytes()))["onedrive_connections"]

    Vault.path, Vault.password_file = path, password_file
    return Vault()


@pytest.fixture
def write(ansible_run, vault):
    """Runs vault_config on a path (the vault's by default) setting connection robot to values."""

    def run(values, path=None, env=None):
        extra = {"vault_path": str(path or vault.path), "vc_connection": "robot", "vc_values": values}
        return ansible_run(WRITE, extra_vars=extra, vault_password_file=vault.password_file, env=env)

    return run


@pytest.fixture
def rotate(ansible_run, emulator, vault):
    """Runs rotate_tokens with path on the vault; the task "Rotate" holds the result (it never fails the run)."""

    def run(env=None, **variables):
        variables = {
            "vault_path": str(vault.path), "emulator_url": emulator.base_url, "ca_path": str(emulator.ca_path), **variables
        }
        result = ansible_run(ROTATE, extra_vars=variables, vault_password_file=vault.password_file, env=env)
        assert result.rc == 0, result.output
        assert_no_secret(result, *emulator.issued())
        return result

    return run


def failed(run, name):
    return [entry["status"] for entry in run.tasks if entry["name"] == name] == ["failed"]


def granted(emulator):
    tokens = emulator.grant(PUBLIC_APP, "adele@contoso.onmicrosoft.com", SCOPES)
    return {"client_id": PUBLIC_APP, "refresh_token": tokens["refresh_token"]}


def no_chown_env(tmp_path):
    folder = tmp_path / "no-chown"
    folder.mkdir(exist_ok=True)
    (folder / "sitecustomize.py").write_text(NO_CHOWN)
    return {"PYTHONPATH": str(folder)}


# --- item 7: the lock file ---


def test_vault_config_refuses_a_lock_planted_as_a_link_or_by_another_user(write, vault, tmp_path):
    vault.write({"robot": ROBOT})
    before = snapshot(vault.path)
    target = tmp_path / "created-through-the-lock"
    plant_link(vault.lock, target)

    linked = write({"tenant": "x"})

    assert linked.rc != 0
    message = linked.task("Write")["msg"]
    assert f"{vault.lock}, the lock of the writers of {vault.path}, is a symbolic link" in message
    assert "Remove it while no play writes" in message
    assert not target.exists() and snapshot(vault.path) == before
    assert_no_secret(linked, ROBOT["refresh_token"])

    plant_lock(vault.lock)
    theirs = write({"tenant": "x"})

    assert theirs.rc != 0
    assert f"{vault.lock}, the lock of the writers of {vault.path}, is owned by uid {NOBODY}" in theirs.task("Write")["msg"]
    assert snapshot(vault.path) == before


@pytest.mark.parametrize("plant", ["link", "other user's lock", "lock held too long"])
def test_rotate_refuses_a_planted_or_blocked_lock_before_any_token_is_requested(emulator, vault, rotate, plant):
    stored = {"robot": granted(emulator)}
    vault.write(stored)
    before = snapshot(vault.path)
    elsewhere = vault.path.parent.parent / "elsewhere"
    holder = None
    if plant == "link":
        plant_link(vault.lock, elsewhere)
    elif plant == "other user's lock":
        plant_lock(vault.lock)
    else:
        holder = os.open(vault.lock, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(holder, fcntl.LOCK_EX)  # another writer, for longer than the task waits
    emulator.clear_log()
    try:
        run = rotate(lock_timeout=1)
    finally:
        if holder is not None:
            os.close(holder)

    result = run.task("Rotate")
    assert failed(run, "Rotate") and "connection_results" not in result and "store_error" not in result
    assert str(vault.lock) in result["msg"] and str(vault.path) in result["msg"]
    expected = {
        "link": "is a symbolic link",
        "other user's lock": f"is owned by uid {NOBODY}",
        "lock held too long": "another writer held the lock",
    }[plant]
    assert expected in result["msg"]
    assert ("raise lock_timeout" if holder is not None else "Remove it while no play writes") in result["msg"]
    # Nothing was refreshed, so nothing was lost: no token request, the file as it was, and the stored token
    # still rotates once the lock is free again.
    assert emulator.log()["counts"] == {}
    assert snapshot(vault.path) == before and not elsewhere.exists()
    os.unlink(vault.lock)
    again = rotate(lock_timeout=1).task("Rotate")
    assert again["statuses"]["rotated"] == ["robot"], again
    assert vault.read()["robot"]["refresh_token"] != stored["robot"]["refresh_token"]


def test_a_lock_taken_after_the_probe_still_fails_the_store_and_names_what_was_refreshed(emulator, vault, rotate):
    # The probe before the rotation is no reservation: a writer that comes during the rotation and holds the
    # lock for longer than lock_timeout still fails the store, and the message says which tokens were spent.
    stored = granted(emulator)
    vault.write({"robot": stored})
    emulator.fault("token", "delay", delay=3)
    held = threading.Event()
    holder = os.open(vault.lock, os.O_RDWR | os.O_CREAT, 0o600)

    def lock_once_the_token_is_requested():
        deadline = time.monotonic() + 60
        while emulator.pending_faults() and time.monotonic() < deadline:
            time.sleep(0.05)
        fcntl.flock(holder, fcntl.LOCK_EX)
        held.set()

    other_writer = threading.Thread(target=lock_once_the_token_is_requested)
    other_writer.start()
    try:
        run = rotate(lock_timeout=1)
    finally:
        other_writer.join(60)
        os.close(holder)

    assert held.is_set()
    result = run.task("Rotate")
    assert failed(run, "Rotate") and result["statuses"]["rotated"] == ["robot"]
    assert "another writer held the lock" in result["store_error"] and str(vault.lock) in result["store_error"]
    assert "could not be stored" in result["msg"] and "Refreshed: robot;" in result["msg"]
    # Only the run's claim was written, before the refresh; it stays until its lease ends.
    assert {**vault.read()["robot"], "claim": None} == {**stored, "claim": None} and vault.read()["robot"]["claim"]


# --- item 8: a link at the vault path ---


def test_vault_config_refuses_a_link_of_another_user_and_never_creates_its_target(write, vault, tmp_path):
    vault.write({"robot": ROBOT})
    before = snapshot(vault.path)
    link = tmp_path / "link.yml"
    plant_link(link, vault.path)

    followed = write({"tenant": "x"}, path=link)

    assert followed.rc != 0
    message = followed.task("Write")["msg"]
    assert f"{link} is a symbolic link owned by uid {NOBODY}" in message and "not followed" in message
    assert snapshot(vault.path) == before

    dangling = tmp_path / "dangling.yml"
    target = tmp_path / "chosen-by-them.yml"
    plant_link(dangling, target)
    created = write(ROBOT, path=dangling)

    assert created.rc != 0 and "not followed" in created.task("Write")["msg"]
    assert not os.path.lexists(target) and dangling.is_symlink()
    assert_no_secret(created, ROBOT["refresh_token"])


def test_a_link_of_ones_own_is_followed_and_rotate_refuses_one_of_another_user(emulator, write, vault, rotate, tmp_path):
    mine = tmp_path / "mine.yml"
    mine.symlink_to(vault.path)  # dangling: the documented behaviour creates its target
    created = write(ROBOT, path=mine)
    assert created.rc == 0, created.output
    assert mine.is_symlink() and vault.read()["robot"] == ROBOT

    vault.write({"robot": granted(emulator)})
    before = snapshot(vault.path)
    os.lchown(mine, NOBODY, NOGROUP)
    emulator.clear_log()
    run = rotate(vault_path=str(mine))
    result = run.task("Rotate")
    assert failed(run, "Rotate") and f"{mine} is a symbolic link owned by uid {NOBODY}" in result["msg"]
    assert emulator.log()["counts"] == {} and snapshot(vault.path) == before


# --- item 9: the owner of a rewritten file ---


def test_rewrites_keep_the_owner_and_group_of_the_file(emulator, write, vault, rotate):
    vault.write({"robot": ROBOT})
    os.chown(vault.path, NOBODY, NOGROUP)
    vault.path.chmod(0o640)

    written = write({"tenant": "x"})

    assert written.rc == 0 and written.changed == 1, written.output
    assert "warnings" not in written.task("Write")
    info = vault.path.stat()
    # write.yml leaves mode at its default, 0600.
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (NOBODY, NOGROUP, 0o600)

    vault.write({"robot": granted(emulator)})
    os.chown(vault.path, NOBODY, NOGROUP)
    vault.path.chmod(0o640)
    result = rotate().task("Rotate")
    assert result["statuses"]["rotated"] == ["robot"] and "warnings" not in result
    info = vault.path.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (NOBODY, NOGROUP, 0o640)


def test_an_owner_that_cannot_be_kept_is_a_warning_of_both_modules(emulator, write, vault, rotate, tmp_path):
    vault.write({"robot": ROBOT})
    os.chown(vault.path, NOBODY, NOGROUP)
    env = no_chown_env(tmp_path)

    written = write({"tenant": "x"}, env=env)

    assert written.rc == 0 and written.changed == 1, written.output
    [warning] = written.task("Write")["warnings"]
    assert f"{vault.path} was rewritten" in warning and "owner nobody:nogroup, so it is now owned by root:nogroup" in warning
    assert f"chown {NOBODY}:{NOGROUP} {vault.path}" in warning
    assert (vault.path.stat().st_uid, vault.path.stat().st_gid) == (0, NOGROUP)
    assert vault.read()["robot"]["tenant"] == "x"
    assert_no_secret(written, ROBOT["refresh_token"])

    vault.write({"robot": granted(emulator)})
    os.chown(vault.path, NOBODY, NOGROUP)
    run = rotate(env=env)
    result = run.task("Rotate")
    assert result["statuses"]["rotated"] == ["robot"] and not failed(run, "Rotate")
    assert [shown for shown in result["warnings"] if "was rewritten" in shown] == [warning]
    assert (vault.path.stat().st_uid, vault.path.stat().st_gid) == (0, NOGROUP)


# --- item 10: temporaries of this file only ---


def test_a_write_leaves_the_temporaries_of_another_file_in_flight(write, vault):
    vault.write({"robot": ROBOT})
    folder = vault.path.parent
    own = folder / ".v.yml.0123456789abcdef.partial"  # of a killed writer of v.yml
    others = [
        folder / ".v.yml.bak.0123456789abcdef.partial",  # a writer of v.yml.bak, under that file's lock
        folder / ".v.yml.bak.k2j3h4_x.partial",
    ]
    for temporary in [own, *others]:
        temporary.write_bytes(b"half")

    written = write({"tenant": "x"})

    assert written.rc == 0 and written.changed == 1, written.output
    assert not own.exists() and all(other.read_bytes() == b"half" for other in others)
