"""The vaulted file on the controller against what other users may plant beside it (issue 20, items 7 to 10):
a lock that is a link or someone else's, a link at the vault path, the owner of a rewritten file, and the
temporaries of a neighbouring file.

The tests run as root, which can give a planted link or lock to another user (nobody) as that user would
have planted it.
"""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import stat

import pytest
import yaml

from ansible_collections.onedrive.connection.plugins.plugin_utils import atomic_file
from ansible_collections.onedrive.connection.plugins.plugin_utils.atomic_file import (
    LockTimeout,
    UnsafeFile,
    exclusive_lock,
    replace_atomically,
    trusted_target,
)
from ansible_collections.onedrive.connection.plugins.plugin_utils.vault_file import (
    VaultConfigError,
    VaultConfigFile,
    encryption_of,
)

NOBODY = 65534
NOGROUP = 65534
ROBOT = {"client_id": "11111111-2222-3333-4444-555555555555", "refresh_token": "rt-one-SECRET"}

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user takes root")


def decrypted(path, vault):
    return yaml.safe_load(vault.decrypt(path.read_bytes()))


def plant_link(link, target, uid=NOBODY):
    """A symbolic link at link, in place of whatever was there, made by the user uid."""
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(target, link)
    os.lchown(link, uid, uid)


def plant_lock(lock, uid=NOBODY):
    """A lock file of the user uid, in place of whatever was there."""
    if os.path.lexists(lock):
        os.unlink(lock)
    lock.write_bytes(b"")
    os.chown(lock, uid, uid)


@pytest.fixture
def stored(tmp_path, vault):
    """A vault holding one connection (written once, so its lock exists as a writer left it)."""
    path = tmp_path / "v.yml"
    VaultConfigFile(str(path), vault).update({"robot": ROBOT})
    return path


# --- item 7: the lock file ---


def test_a_lock_planted_as_a_link_is_refused_and_never_followed(tmp_path, stored, vault):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = elsewhere / "created-through-the-link"
    plant_link(tmp_path / ".v.yml.lock", target)
    before = stored.read_bytes()

    with pytest.raises(UnsafeFile, match=r"\.v\.yml\.lock, the lock of the writers of .*v\.yml, is a symbolic link"):
        with exclusive_lock(str(stored), timeout=1):
            pass
    with pytest.raises(VaultConfigError, match=r"is a symbolic link.*Remove it while no play writes"):
        VaultConfigFile(str(stored), vault).update({"robot": {"tenant": "x"}})
    assert not target.exists() and stored.read_bytes() == before


def test_a_link_of_ones_own_at_the_lock_is_refused_too(tmp_path, stored):
    # The lock is never a link, so no link there is one this collection made.
    plant_link(tmp_path / ".v.yml.lock", tmp_path / "mine", uid=0)
    with pytest.raises(UnsafeFile, match="is a symbolic link"):
        with exclusive_lock(str(stored), timeout=1):
            pass
    assert not (tmp_path / "mine").exists()


def test_a_lock_owned_by_another_user_is_refused(tmp_path, stored, vault):
    plant_lock(tmp_path / ".v.yml.lock")
    before = stored.read_bytes()
    with pytest.raises(UnsafeFile, match=f"is owned by uid {NOBODY}, neither you, root nor the owner of its folder"):
        with exclusive_lock(str(stored), timeout=1):
            pass
    with pytest.raises(VaultConfigError, match=rf"{tmp_path}/\.v\.yml\.lock.*owned by uid {NOBODY}.*keep {tmp_path} writable"):
        VaultConfigFile(str(stored), vault).update({"robot": {"tenant": "x"}})
    assert stored.read_bytes() == before


def test_a_lock_that_is_no_plain_file_of_its_own_is_refused(tmp_path, stored):
    os.unlink(tmp_path / ".v.yml.lock")
    os.link(stored, tmp_path / ".v.yml.lock")
    with pytest.raises(UnsafeFile, match=r"has other names \(hard links\)"):
        with exclusive_lock(str(stored), timeout=1):
            pass
    os.unlink(tmp_path / ".v.yml.lock")
    os.mkfifo(tmp_path / ".v.yml.lock", 0o600)
    with pytest.raises(UnsafeFile, match="is not a plain file"):
        with exclusive_lock(str(stored), timeout=1):
            pass


def test_a_lock_of_the_folders_owner_is_used(tmp_path, vault):
    # Whoever owns the folder could replace the vault itself, so a lock of theirs is no trap.
    folder = tmp_path / "theirs"
    folder.mkdir()
    os.chown(folder, NOBODY, NOGROUP)
    path = folder / "v.yml"
    plant_lock(folder / ".v.yml.lock")
    VaultConfigFile(str(path), vault).update({"robot": ROBOT})
    assert decrypted(path, vault)["onedrive_connections"]["robot"] == ROBOT


def test_check_writable_fails_on_a_lock_held_for_longer_than_lock_timeout_and_releases_it(stored, vault, tmp_path):
    other_writer = os.open(tmp_path / ".v.yml.lock", os.O_RDWR)
    try:
        fcntl.flock(other_writer, fcntl.LOCK_EX)
        with pytest.raises(VaultConfigError) as refused:
            VaultConfigFile(str(stored), vault, lock_timeout=0.2).check_writable()
    finally:
        os.close(other_writer)
    message = str(refused.value)
    assert f"another writer held the lock on {stored} (the file {tmp_path}/.v.yml.lock) for more than 0.2 s" in message
    assert "raise lock_timeout" in message and "fuser" in message
    # The probe let the lock go: another writer takes it at once.
    with exclusive_lock(str(stored), timeout=0):
        pass


def test_check_writable_refuses_a_planted_lock(tmp_path, stored, vault):
    plant_link(tmp_path / ".v.yml.lock", tmp_path / "nowhere")
    with pytest.raises(VaultConfigError, match="is a symbolic link"):
        VaultConfigFile(str(stored), vault).check_writable()
    os.unlink(tmp_path / ".v.yml.lock")
    plant_lock(tmp_path / ".v.yml.lock")
    with pytest.raises(VaultConfigError, match=f"owned by uid {NOBODY}"):
        VaultConfigFile(str(stored), vault).check_writable()
    assert not (tmp_path / "nowhere").exists()


def test_check_writable_probes_without_leaving_a_lock_file_behind(tmp_path, vault):
    # A vault put in place by hand has no lock yet; one that cannot be read must be left exactly as it was.
    path = tmp_path / "v.yml"
    path.write_bytes(vault.encrypt(yaml.safe_dump({"onedrive_connections": {"robot": ROBOT}})))
    VaultConfigFile(str(path), vault).check_writable()
    assert sorted(os.listdir(tmp_path)) == ["v.yml"]


# --- item 8: a link at the vault path ---


def test_a_link_of_another_user_at_the_vault_path_is_refused(tmp_path, stored, vault):
    link = tmp_path / "link.yml"
    plant_link(link, stored)
    before = stored.read_bytes()
    expected = rf"{link} is a symbolic link owned by uid {NOBODY}, neither you, root nor the owner of its folder"
    with pytest.raises(VaultConfigError, match=expected):
        VaultConfigFile(str(link), vault).update({"robot": {"tenant": "x"}})
    with pytest.raises(VaultConfigError, match=expected):
        encryption_of(str(link))
    assert stored.read_bytes() == before


def test_a_dangling_link_of_another_user_never_creates_its_target(tmp_path, vault):
    target = tmp_path / "chosen-by-them.yml"
    link = tmp_path / "v.yml"
    plant_link(link, target)
    with pytest.raises(VaultConfigError, match="not followed: another user may have planted it"):
        VaultConfigFile(str(link), vault).update({"robot": ROBOT})
    assert not target.exists() and not os.path.lexists(tmp_path / ".chosen-by-them.yml.lock")


def test_every_link_of_a_chain_must_be_trusted(tmp_path, stored, vault):
    theirs = tmp_path / "theirs.yml"
    plant_link(theirs, stored)
    mine = tmp_path / "mine.yml"
    mine.symlink_to(theirs)
    with pytest.raises(VaultConfigError, match=f"{theirs} is a symbolic link owned by uid {NOBODY}"):
        VaultConfigFile(str(mine), vault)


def test_links_of_ones_own_root_or_the_folders_owner_are_followed(tmp_path, vault):
    folder = tmp_path / "theirs"
    folder.mkdir()
    os.chown(folder, NOBODY, NOGROUP)
    real = tmp_path / "real.yml"
    plant_link(folder / "v.yml", real)  # the folder's owner's own link
    relative = tmp_path / "relative.yml"
    relative.symlink_to("theirs/v.yml")
    assert trusted_target(str(relative)) == os.path.realpath(real)
    VaultConfigFile(str(relative), vault).update({"robot": ROBOT})
    # A dangling link of one's own creates its target, as documented.
    assert decrypted(real, vault)["onedrive_connections"]["robot"] == ROBOT
    assert (folder / "v.yml").is_symlink() and relative.is_symlink()


def test_a_loop_of_links_is_refused_with_a_message(tmp_path):
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    with pytest.raises(UnsafeFile, match="chain of more than 40 symbolic links"):
        trusted_target(str(tmp_path / "a"))


# --- item 9: the owner of a rewritten file ---


@pytest.mark.parametrize("mode", [None, 0o640])
def test_a_rewrite_keeps_the_owner_and_group(stored, vault, mode):
    os.chown(stored, NOBODY, NOGROUP)
    stored.chmod(0o640)
    outcome = VaultConfigFile(str(stored), vault, mode=mode).update({"robot": {"tenant": "x"}})
    assert outcome.changed and outcome.warnings == []
    info = stored.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (NOBODY, NOGROUP, 0o640)
    assert decrypted(stored, vault)["onedrive_connections"]["robot"]["tenant"] == "x"


def test_a_new_file_belongs_to_the_writer(tmp_path, vault):
    path = tmp_path / "new.yml"
    assert VaultConfigFile(str(path), vault).update({"robot": ROBOT}).warnings == []
    assert (path.stat().st_uid, path.stat().st_gid) == (os.geteuid(), os.getegid())


def test_an_owner_this_user_may_not_give_is_a_warning_and_the_group_is_kept_if_it_may(stored, vault, monkeypatch):
    os.chown(stored, NOBODY, NOGROUP)
    stored.chmod(0o640)
    real_fchown = os.fchown

    def as_a_member_of_nogroup(descriptor, uid, gid):
        # What a user without CAP_CHOWN may do: change the group to one of its own, never the owner.
        if uid != -1:
            raise PermissionError(1, "Operation not permitted")
        real_fchown(descriptor, uid, gid)

    monkeypatch.setattr(atomic_file.os, "fchown", as_a_member_of_nogroup)
    outcome = VaultConfigFile(str(stored), vault, mode=None).update({"robot": {"tenant": "x"}})

    assert outcome.changed
    [warning] = outcome.warnings
    assert f"{stored} was rewritten" in warning
    assert "old one's owner nobody:nogroup, so it is now owned by root:nogroup" in warning
    assert f"chown {NOBODY}:{NOGROUP} {stored}" in warning and "SECRET" not in warning
    info = stored.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (0, NOGROUP, 0o640)
    assert decrypted(stored, vault)["onedrive_connections"]["robot"]["tenant"] == "x"


def test_replace_gives_the_owner_before_the_file_takes_the_path(tmp_path, monkeypatch):
    path = tmp_path / "f"
    seen = []
    real_replace = os.replace

    def replace(source, destination):
        info = os.stat(source)
        seen.append((info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)))
        real_replace(source, destination)

    monkeypatch.setattr(atomic_file.os, "replace", replace)
    assert replace_atomically(str(path), b"new", 0o640, (NOBODY, NOGROUP)) is True
    assert seen == [(NOBODY, NOGROUP, 0o640)]


# --- item 10: temporaries of this file only ---


def test_the_lock_of_a_file_leaves_the_temporaries_of_a_longer_named_neighbour(tmp_path):
    path = tmp_path / "v.yml"
    own = [tmp_path / ".v.yml.0123456789abcdef.partial", tmp_path / ".v.yml.k2j3h4_x.partial"]
    neighbours = [
        tmp_path / ".v.yml.bak.0123456789abcdef.partial",  # in flight under the lock of v.yml.bak
        tmp_path / ".v.yml.bak.k2j3h4_x.partial",
        tmp_path / ".v.yml.1234.2025-03-01@08:30:00~.0123456789abcdef.partial",  # a backup being written
        tmp_path / ".v.0123456789abcdef.partial",
        tmp_path / ".v.yml.notes.partial",
    ]
    for temporary in own + neighbours:
        temporary.write_bytes(b"half")
    with exclusive_lock(str(path), timeout=1):
        pass
    assert [temporary.exists() for temporary in own] == [False, False]
    assert all(neighbour.exists() for neighbour in neighbours)


def test_the_lock_of_the_shorter_name_is_exact_as_well(tmp_path):
    # And the other way round: the lock of v.yml.bak leaves those of v.yml.
    own = tmp_path / ".v.yml.bak.0123456789abcdef.partial"
    neighbour = tmp_path / ".v.yml.0123456789abcdef.partial"
    own.write_bytes(b"half")
    neighbour.write_bytes(b"half")
    with exclusive_lock(str(tmp_path / "v.yml.bak"), timeout=1):
        pass
    assert not own.exists() and neighbour.exists()


def _die_before_the_rename(path):
    atomic_file.os.replace = lambda *args: os._exit(0)
    replace_atomically(path, b"new", 0o600)


def test_the_temporary_of_a_killed_writer_is_recognised_and_removed(tmp_path):
    path = tmp_path / "v.yml"
    path.write_bytes(b"old")
    writer = multiprocessing.get_context("fork").Process(target=_die_before_the_rename, args=(str(path),))
    writer.start()
    writer.join(10)
    [abandoned] = [name for name in os.listdir(tmp_path) if name.endswith(".partial")]
    os.mkdir(tmp_path / ".v.yml.fedcba9876543210.partial")  # not a file: left, and no reason to fail
    with exclusive_lock(str(path), timeout=1):
        pass
    assert not (tmp_path / abandoned).exists() and path.read_bytes() == b"old"
    assert (tmp_path / ".v.yml.fedcba9876543210.partial").is_dir()


def test_a_held_lock_still_times_out_with_lock_timeout(tmp_path):
    path = tmp_path / "v.yml"
    other_writer = os.open(tmp_path / ".v.yml.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(other_writer, fcntl.LOCK_EX)
        with pytest.raises(LockTimeout, match="another writer held the lock"):
            with exclusive_lock(str(path), timeout=0.1):
                pass
    finally:
        os.close(other_writer)
