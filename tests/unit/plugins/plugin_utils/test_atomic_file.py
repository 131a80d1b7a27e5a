from __future__ import annotations

import multiprocessing
import os
import stat

import pytest

from ansible_collections.onedrive.connection.plugins.plugin_utils import atomic_file
from ansible_collections.onedrive.connection.plugins.plugin_utils.atomic_file import (
    LockTimeout,
    exclusive_lock,
    read_existing,
    replace_atomically,
)


def test_read_existing_gives_content_and_mode(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"data")
    path.chmod(0o640)
    assert read_existing(str(path)) == (b"data", 0o640)
    assert read_existing(str(tmp_path / "missing")) is None


def test_replace_creates_with_mode_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "f"
    replace_atomically(str(path), b"new", 0o600)
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(os.listdir(tmp_path)) == ["f"]


def test_replace_swaps_the_inode_instead_of_writing_in_place(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"old")
    reader = path.open("rb")
    replace_atomically(str(path), b"new", 0o644)
    # A reader that opened the old file still sees all of it: the old file was never truncated.
    assert reader.read() == b"old"
    reader.close()
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_failed_replace_removes_its_temporary_and_keeps_the_file(tmp_path, monkeypatch):
    path = tmp_path / "f"
    path.write_bytes(b"old")

    def no_space(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic_file.os, "fsync", no_space)
    with pytest.raises(OSError):
        replace_atomically(str(path), b"new", 0o600)
    assert path.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["f"]


def _hold_lock(path, locked, release):
    with exclusive_lock(path, timeout=5):
        locked.set()
        release.wait(10)


def test_lock_excludes_another_process_and_times_out(tmp_path):
    path = str(tmp_path / "f")
    context = multiprocessing.get_context("fork")
    locked, release = context.Event(), context.Event()
    holder = context.Process(target=_hold_lock, args=(path, locked, release))
    holder.start()
    try:
        assert locked.wait(10)
        with pytest.raises(LockTimeout, match="another writer held the lock"):
            with exclusive_lock(path, timeout=0.2):
                pass
    finally:
        release.set()
        holder.join(10)
    with exclusive_lock(path, timeout=1):
        pass
    assert (tmp_path / ".f.lock").exists()


def test_lock_is_released_when_its_holder_is_killed(tmp_path):
    path = str(tmp_path / "f")
    context = multiprocessing.get_context("fork")
    locked, release = context.Event(), context.Event()
    holder = context.Process(target=_hold_lock, args=(path, locked, release))
    holder.start()
    assert locked.wait(10)
    holder.kill()
    holder.join(10)
    with exclusive_lock(path, timeout=2):
        pass


def test_lock_holder_removes_temporaries_of_killed_writers_only(tmp_path):
    path = tmp_path / "f"
    abandoned = tmp_path / ".f.k2j3h4_x.partial"
    abandoned.write_bytes(b"half")
    unrelated = [tmp_path / ".g.abc.partial", tmp_path / "f.partial", tmp_path / ".f.lock.keep"]
    for other in unrelated:
        other.write_bytes(b"keep")
    with exclusive_lock(str(path), timeout=1):
        pass
    assert not abandoned.exists()
    assert all(other.exists() for other in unrelated)
